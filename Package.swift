// swift-tools-version: 6.0
import PackageDescription

// The hot targets are compiled for Haswell (AVX2, FMA, F16C) so that Swift SIMD
// types lower to vector instructions instead of library calls. The innermost quantized
// dot products live in CKernels, which picks AVX-512 VNNI / AVX-VNNI / AVX2 / scalar at
// run time.
let hotSwiftSettings: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-target-cpu", "haswell"]),
]

let package = Package(
    name: "Sinkstream",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "sinkstream", targets: ["SinkstreamCLI"]),
        .library(name: "SinkstreamKit", targets: ["GGUF", "Tokenization", "Kernels", "Model", "Streaming", "Store", "PostgresStore", "Report", "Tasks", "Pipeline"]),
        // The two input parsers alone, for the fuzz harness in Fuzz/ (no kernels, SQLite or crypto).
        .library(name: "SinkstreamFormats", targets: ["GGUF", "Tokenization"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // File format: memory-mapped GGUF reader and a small writer (tests, fuzz corpus).
        .target(name: "GGUF"),
        // Byte-level BPE tokenizer with llama.cpp-compatible pre-tokenizers.
        .target(name: "Tokenization", swiftSettings: [.unsafeFlags(["-Ounchecked"])]),
        // Innermost quantized dot-product / GEMM kernels with runtime CPU dispatch.
        .target(
            name: "CKernels",
            cSettings: [.unsafeFlags(["-O3", "-fno-strict-aliasing"])]
        ),
        // Swift side of the kernels: thread pool, matmul dispatch, float vector ops.
        .target(name: "Kernels", dependencies: ["CKernels", "GGUF"], swiftSettings: hotSwiftSettings),
        // The llama architecture: weights, configuration, forward pass.
        .target(
            name: "Model",
            dependencies: ["GGUF", "Tokenization", "Kernels", "CKernels", .product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: hotSwiftSettings
        ),
        // Streaming attention: KV caches for every mode, chunked scoring, document reader.
        .target(name: "Streaming", dependencies: ["Model", "Kernels", "Tokenization"], swiftSettings: hotSwiftSettings),
        // Persistent runs on SQLite (GRDB).
        .target(name: "Store", dependencies: [.product(name: "GRDB", package: "GRDB.swift")]),
        // Persistent runs and the work queue on PostgreSQL (postgres-nio), behind the same protocol.
        .target(name: "PostgresStore", dependencies: ["Store", .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log")]),
        // Perplexity over document length: tables, CSV, JSON, SVG.
        .target(name: "Report"),
        // Runs: streaming a document from disk through a scorer with checkpoints in the store.
        .target(name: "Pipeline", dependencies: ["Model", "Streaming", "Tokenization", "Store", "Report", "Kernels"]),
        // Long-document tasks: sections, chat templates, generation.
        .target(name: "Tasks", dependencies: ["Model", "Streaming", "Tokenization", "Kernels", "Store", "Pipeline"]),
        .executableTarget(
            name: "SinkstreamCLI",
            dependencies: [
                "GGUF", "Tokenization", "Kernels", "Model", "Streaming", "Store", "PostgresStore", "Report", "Tasks", "Pipeline",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Fixture lookup, the real-model locator and a tiny random-weight model writer.
        .target(name: "TestSupport", dependencies: ["GGUF", "Model", "Kernels"], path: "Tests/TestSupport"),
        .testTarget(name: "GGUFTests", dependencies: ["GGUF", "TestSupport"]),
        .testTarget(name: "TokenizationTests", dependencies: ["Tokenization", "GGUF", "TestSupport"]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "CKernels", "GGUF", "TestSupport"]),
        .testTarget(name: "ModelTests", dependencies: ["Model", "GGUF", "Kernels", "Tokenization", "Streaming", "Tasks", "TestSupport"]),
        .testTarget(name: "StreamingTests", dependencies: ["Streaming", "Model", "TestSupport"]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "TestSupport"]),
        .testTarget(name: "PostgresStoreTests", dependencies: ["PostgresStore", "Store", "TestSupport"]),
        .testTarget(name: "ReportTests", dependencies: ["Report", "TestSupport"]),
        .testTarget(name: "TasksTests", dependencies: ["Tasks", "Model", "Streaming", "Tokenization", "Store", "Pipeline", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["GGUF", "Store", "TestSupport"], exclude: ["HelpSnapshots"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "Store", "Streaming", "Model", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
