// swift-tools-version: 6.1
// Micro benchmarks (ordo-one/package-benchmark), a package of their own so the main
// build and CI never compile the benchmark framework. Run from this directory:
//   swift package benchmark            (or: make micro-bench at the top level)
import PackageDescription

let package = Package(
    name: "rviewer-micro-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "rviewer", path: "../.."),
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: ["HTTPPath", "ShellQuoting"].map(benchmark)
)

/// One benchmark executable: `Benchmarks/<name>/<name>.swift`, run by the plugin.
func benchmark(_ name: String) -> Target {
    .executableTarget(
        name: name,
        dependencies: [
            .product(name: "Benchmark", package: "package-benchmark"),
            .product(name: "RViewerKit", package: "rviewer"),
        ],
        path: "Benchmarks/\(name)",
        plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
    )
}
