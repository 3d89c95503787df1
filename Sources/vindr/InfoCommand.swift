import ArgumentParser
import VinDrDICOM

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Print a DICOM file's image attributes.")

    @Argument(help: "DICOM file") var path: String

    func run() throws {
        print(path)
    }
}
