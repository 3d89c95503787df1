import ArgumentParser
import VinDrDICOM

/// The `vindr` command-line tool. Exit codes: 0 success, 1 a data error (the message names the
/// file and reason), 64 bad usage (swift-argument-parser's validation errors).
@main
struct VinDr: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vindr",
        abstract: "Read, render and label VinDr-CXR chest X-rays.",
        version: SDKVersion.string,
        subcommands: [
            InfoCommand.self, RenderCommand.self, StatsCommand.self, EvalCommand.self, FuseCommand.self, QCCommand.self,
            ExportCommand.self, SplitCommand.self, DrawCommand.self, CacheCommand.self, SampleCommand.self, BenchCommand.self, DeidCommand.self,
            TranscodeCommand.self,
        ])
}
