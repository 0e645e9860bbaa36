// swift-tools-version: 6.0
import PackageDescription

// libFuzzer harness for Sinkstream's input parsers. Kept out of the main package so that
// normal builds never see `-sanitize=fuzzer`; build and run it with `Fuzz/run.sh`.
let package = Package(
    name: "SinkstreamFuzz",
    dependencies: [
        .package(name: "Sinkstream", path: ".."),
    ],
    targets: [
        // Shared by the fuzz targets: invariant checks, the fuzz vocabulary, seed corpora.
        .target(name: "FuzzSupport", dependencies: [.product(name: "SinkstreamFormats", package: "Sinkstream")]),
        // `main` for each executable: hands control to libFuzzer's driver.
        .target(name: "FuzzDriver"),
        // GGUF header / metadata / tensor-info parser (and what a loader does with the result).
        .executableTarget(
            name: "FuzzGGUF",
            dependencies: ["FuzzSupport", "FuzzDriver", .product(name: "SinkstreamFormats", package: "Sinkstream")]
        ),
        // BPE encode / decode round trips and the streaming encoder against whole-text encoding.
        .executableTarget(
            name: "FuzzTokenizer",
            dependencies: ["FuzzSupport", "FuzzDriver", .product(name: "SinkstreamFormats", package: "Sinkstream")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
