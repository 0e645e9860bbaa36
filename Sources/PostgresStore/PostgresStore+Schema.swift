import Foundation
import PostgresNIO
import Store

extension PostgresStore {
    /// The value of `sinkstream_meta.application` in Sinkstream's databases (the SQLite
    /// store's application id says the same: "SKST").
    public static let applicationName = "sinkstream"

    /// The schema versions this build knows, oldest first, each one transaction of statements.
    /// The logical schema of v1 is the SQLite store's, plus the queue and the documents.
    static let migrations: [(version: String, statements: [String])] = [
        ("v1", [
            """
            CREATE TABLE run (
                id TEXT PRIMARY KEY,
                batchID TEXT,
                task TEXT NOT NULL CHECK (task IN ('score', 'summarize', 'translate', 'compare')),
                documentPath TEXT NOT NULL,
                documentSHA256 TEXT NOT NULL,
                documentSize BIGINT NOT NULL,
                modelPath TEXT NOT NULL,
                modelSHA256 TEXT NOT NULL,
                config TEXT NOT NULL,
                mode TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('running', 'paused', 'failed', 'completed')),
                createdAt TIMESTAMPTZ NOT NULL,
                updatedAt TIMESTAMPTZ NOT NULL,
                completedAt TIMESTAMPTZ,
                tokens BIGINT NOT NULL DEFAULT 0,
                bytes BIGINT NOT NULL DEFAULT 0,
                nllSum DOUBLE PRECISION NOT NULL DEFAULT 0,
                lastCheckpointAt TIMESTAMPTZ,
                errorText TEXT,
                seq BIGSERIAL NOT NULL
            )
            """,
            "CREATE INDEX run_on_createdAt ON run(createdAt, seq)",
            "CREATE INDEX run_on_task_status ON run(task, status)",
            "CREATE INDEX run_on_batchID ON run(batchID) WHERE batchID IS NOT NULL",
            """
            CREATE TABLE checkpoint (
                runID TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                sequence BIGINT NOT NULL,
                tokenIndex BIGINT NOT NULL,
                byteOffset BIGINT NOT NULL,
                tokenizerState BYTEA NOT NULL,
                cacheState BYTEA NOT NULL,
                taskState BYTEA NOT NULL,
                rngState BYTEA,
                liveRanges TEXT NOT NULL,
                createdAt TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (runID, sequence)
            )
            """,
            """
            CREATE TABLE kv_block (
                runID TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                firstToken BIGINT NOT NULL CHECK (firstToken >= 0),
                count BIGINT NOT NULL CHECK (count > 0),
                data BYTEA NOT NULL,
                UNIQUE (runID, firstToken)
            )
            """,
            """
            CREATE TABLE nll_block (
                runID TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                firstToken BIGINT NOT NULL CHECK (firstToken >= 0),
                count BIGINT NOT NULL CHECK (count > 0),
                nll BYTEA NOT NULL,
                byteOffsets BYTEA NOT NULL,
                UNIQUE (runID, firstToken)
            )
            """,
            """
            CREATE TABLE metric (
                runID TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                bucketStart BIGINT NOT NULL,
                bucketEnd BIGINT NOT NULL,
                meanNLL DOUBLE PRECISION NOT NULL,
                ppl DOUBLE PRECISION NOT NULL,
                cumulativePPL DOUBLE PRECISION NOT NULL,
                tokensPerSecond DOUBLE PRECISION NOT NULL,
                cacheFill DOUBLE PRECISION NOT NULL,
                peakMemoryBytes BIGINT NOT NULL,
                PRIMARY KEY (runID, bucketStart)
            )
            """,
            """
            CREATE TABLE output_chunk (
                runID TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                sequence BIGINT NOT NULL,
                kind TEXT NOT NULL,
                byteStart BIGINT NOT NULL,
                byteEnd BIGINT NOT NULL,
                text TEXT NOT NULL,
                PRIMARY KEY (runID, sequence)
            )
            """,
            // Documents travel with the work: content-addressed, in chunks.
            "CREATE TABLE document (sha256 TEXT PRIMARY KEY, size BIGINT NOT NULL, chunkSize INTEGER NOT NULL, createdAt TIMESTAMPTZ NOT NULL)",
            """
            CREATE TABLE document_chunk (
                sha256 TEXT NOT NULL REFERENCES document(sha256) ON DELETE CASCADE,
                chunkIndex INTEGER NOT NULL CHECK (chunkIndex >= 0),
                data BYTEA NOT NULL,
                PRIMARY KEY (sha256, chunkIndex)
            )
            """,
            // The work queue: one row per submitted run. A claim sets worker, leaseUntil and a
            // new leaseToken; checkpoint writes check the token (fencing).
            """
            CREATE TABLE queue (
                runID TEXT PRIMARY KEY REFERENCES run(id) ON DELETE CASCADE,
                state TEXT NOT NULL CHECK (state IN ('queued', 'claimed', 'done', 'failed')),
                attempts INTEGER NOT NULL DEFAULT 0,
                failures INTEGER NOT NULL DEFAULT 0,
                leaseToken BIGINT NOT NULL DEFAULT 0,
                leaseUntil TIMESTAMPTZ,
                workerHost TEXT,
                workerPID INTEGER,
                heartbeatAt TIMESTAMPTZ,
                enqueuedAt TIMESTAMPTZ NOT NULL,
                startedAt TIMESTAMPTZ,
                -- false: a run a command holds directly (score/resume --db), which workers never claim
                submitted BOOLEAN NOT NULL DEFAULT true,
                seq BIGSERIAL NOT NULL
            )
            """,
            "CREATE INDEX queue_on_claimable ON queue(state, leaseUntil, seq)",
        ]),
    ]

    /// The newest schema version this build writes.
    public static var schemaVersion: String { migrations.last?.version ?? "v0" }

    /// Tables created by the current schema (besides `sinkstream_meta` and `schema_migrations`).
    static let tableNames = ["run", "checkpoint", "kv_block", "nll_block", "metric", "output_chunk",
                             "document", "document_chunk", "queue"]

    /// The application check, then the missing migrations, in one transaction under an
    /// advisory lock (so that workers starting together migrate once).
    ///
    /// - A database with tables but no `sinkstream_meta` row of ours is another program's:
    ///   refused, untouched.
    /// - A database with a schema version this build does not know is a newer Sinkstream's:
    ///   refused, untouched.
    func migrate(readOnly: Bool) throws {
        let at = url.description
        try transaction("set up the schema") { connection in
            if !readOnly {
                // 0x534B5354 = "SKST", the SQLite store's application id.
                try query(connection, "SELECT pg_advisory_xact_lock(1397445460)")
            }
            let tables = try query(connection, """
                SELECT table_name::text FROM information_schema.tables
                WHERE table_schema = current_schema() ORDER BY table_name LIMIT 200
                """).map { try $0[0].decode(String.self) }
            var application: String?
            if tables.contains("sinkstream_meta") {
                application = try query(connection, "SELECT value FROM sinkstream_meta WHERE key = 'application'")
                    .first.map { try $0[0].decode(String.self) }
            }
            if !tables.isEmpty && application != Self.applicationName {
                let listed = tables.prefix(5).joined(separator: ", ")
                throw StoreError(
                    code: .foreignDatabase, path: at,
                    message: "The database \(at) belongs to another program (it holds tables \(listed) and no Sinkstream marker); refusing to use it as a run store. Create a database of its own (createdb sinkstream) and point --db / SINKSTREAM_DB at it.")
            }
            let applied = tables.contains("schema_migrations")
                ? Set(try query(connection, "SELECT version FROM schema_migrations").map { try $0[0].decode(String.self) })
                : []
            let known = Set(Self.migrations.map(\.version))
            let unknown = applied.subtracting(known).sorted()
            if !unknown.isEmpty {
                throw StoreError(
                    code: .newerSchema, path: at,
                    message: "The run store \(at) was written by a newer Sinkstream (unknown schema versions: \(unknown.joined(separator: ", "))); upgrade Sinkstream to use it.")
            }
            let missing = Self.migrations.filter { !applied.contains($0.version) }
            if missing.isEmpty { return }
            if readOnly {
                throw StoreError(
                    code: .notInitialized, path: at,
                    message: "The run store \(at) has not been set up (or needs an upgrade); open it once without read-only mode.")
            }
            if tables.isEmpty {
                try query(connection, "CREATE TABLE sinkstream_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                try query(connection, "INSERT INTO sinkstream_meta (key, value) VALUES ('application', \(Self.applicationName))")
                try query(connection, "CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, appliedAt TIMESTAMPTZ NOT NULL)")
            }
            for migration in missing {
                for statement in migration.statements {
                    try query(connection, PostgresQuery(unsafeSQL: statement))
                }
                try query(connection, "INSERT INTO schema_migrations (version, appliedAt) VALUES (\(migration.version), now())")
            }
        }
    }
}
