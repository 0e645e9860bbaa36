import GRDB

extension RunStore {
    /// `PRAGMA application_id` of Sinkstream run stores: ASCII "SKST".
    public static let applicationID: Int32 = 0x534B_5354

    /// The schema versions this build knows, oldest first.
    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: "PRAGMA application_id = \(RunStore.applicationID)")
            try db.execute(sql: """
                CREATE TABLE run (
                    id TEXT PRIMARY KEY NOT NULL,
                    batchID TEXT,
                    task TEXT NOT NULL CHECK (task IN ('score', 'summarize', 'translate', 'compare')),
                    documentPath TEXT NOT NULL,
                    documentSHA256 TEXT NOT NULL,
                    documentSize INTEGER NOT NULL,
                    modelPath TEXT NOT NULL,
                    modelSHA256 TEXT NOT NULL,
                    config TEXT NOT NULL,
                    mode TEXT NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('running', 'paused', 'failed', 'completed')),
                    createdAt DATETIME NOT NULL,
                    updatedAt DATETIME NOT NULL,
                    completedAt DATETIME,
                    tokens INTEGER NOT NULL DEFAULT 0,
                    bytes INTEGER NOT NULL DEFAULT 0,
                    nllSum REAL NOT NULL DEFAULT 0,
                    lastCheckpointAt DATETIME,
                    errorText TEXT
                );
                CREATE INDEX run_on_createdAt ON run(createdAt);
                CREATE INDEX run_on_task_status ON run(task, status);
                CREATE INDEX run_on_batchID ON run(batchID) WHERE batchID IS NOT NULL;

                CREATE TABLE checkpoint (
                    runID TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                    sequence INTEGER NOT NULL,
                    tokenIndex INTEGER NOT NULL,
                    byteOffset INTEGER NOT NULL,
                    tokenizerState BLOB NOT NULL,
                    cacheState BLOB NOT NULL,
                    taskState BLOB NOT NULL,
                    rngState BLOB,
                    liveRanges TEXT NOT NULL,
                    createdAt DATETIME NOT NULL,
                    PRIMARY KEY (runID, sequence)
                );

                CREATE TABLE kv_block (
                    runID TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                    firstToken INTEGER NOT NULL CHECK (firstToken >= 0),
                    count INTEGER NOT NULL CHECK (count > 0),
                    data BLOB NOT NULL,
                    UNIQUE (runID, firstToken)
                );

                CREATE TABLE nll_block (
                    runID TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                    firstToken INTEGER NOT NULL CHECK (firstToken >= 0),
                    count INTEGER NOT NULL CHECK (count > 0),
                    nll BLOB NOT NULL,
                    byteOffsets BLOB NOT NULL,
                    UNIQUE (runID, firstToken)
                );

                CREATE TABLE metric (
                    runID TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                    bucketStart INTEGER NOT NULL,
                    bucketEnd INTEGER NOT NULL,
                    meanNLL REAL NOT NULL,
                    ppl REAL NOT NULL,
                    cumulativePPL REAL NOT NULL,
                    tokensPerSecond REAL NOT NULL,
                    cacheFill REAL NOT NULL,
                    peakMemoryBytes INTEGER NOT NULL,
                    PRIMARY KEY (runID, bucketStart)
                );

                CREATE TABLE output_chunk (
                    runID TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                    sequence INTEGER NOT NULL,
                    kind TEXT NOT NULL,
                    byteStart INTEGER NOT NULL,
                    byteEnd INTEGER NOT NULL,
                    text TEXT NOT NULL,
                    PRIMARY KEY (runID, sequence)
                );
                """)
        }
        return migrator
    }()

    /// The newest schema version this build writes (the last migration's name, e.g. `v1`).
    public static var schemaVersion: String { migrator.migrations.last ?? "v0" }

    /// Tables created by the current schema.
    static let tableNames = ["run", "checkpoint", "kv_block", "nll_block", "metric", "output_chunk"]
}
