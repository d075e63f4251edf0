import Benchmark
import SSH

/// The single shell-quoting function every remote command goes through.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput, .mallocCountTotal],
                                           scalingFactor: .kilo, maxDuration: .seconds(3))

    let plain = "/home/alice/miniconda3/envs/torch-2.3/bin/python"
    let hostile = "a'b\"c $(rm -rf ~) `id` ; echo pwned\n\\ & | > < * ? [x] {y} ~ # é 漢字"
    Benchmark("ShellQuote.quote, plain path") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(ShellQuote.quote(plain)) }
    }
    Benchmark("ShellQuote.quote, hostile string") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(ShellQuote.quote(hostile)) }
    }
    Benchmark("ShellQuote.command, viewer launch words") { benchmark in
        let words = [plain, "-m", "runicorn", "viewer", "--host", "127.0.0.1", "--port", "41234", "--storage", "/data/runs with space/it's", "--remote-mode"]
        for _ in benchmark.scaledIterations { blackHole(ShellQuote.command(words)) }
    }
}
