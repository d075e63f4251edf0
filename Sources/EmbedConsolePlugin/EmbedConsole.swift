import Foundation
import PackagePlugin

/// Builds the web console into the RemoteAPI module: its files (the target's Console/
/// folder) become ConsoleAssets.swift at build time, so the binary serves them with no
/// copy of them kept in the repository and nothing fetched at build time.
/// (The target's folder comes as a Path: `directoryURL` needs tools version 6.1.)
@main
struct EmbedConsole: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        guard let source = target as? SourceModuleTarget else { return [] }
        let folder = URL(fileURLWithPath: source.directory.string).appendingPathComponent("Console")
        let inputs = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted().map { folder.appendingPathComponent($0) }
        let output = context.pluginWorkDirectoryURL.appendingPathComponent("ConsoleAssets.swift")
        return [.buildCommand(displayName: "Embedding the web console (\(inputs.count) files)",
                              executable: try context.tool(named: "ConsoleEmbedder").url,
                              arguments: [folder.path, output.path],
                              inputFiles: inputs, outputFiles: [output])]
    }
}
