// swift-tools-version: 6.1
// A separate package that depends on the VinDr SDK by path, as a user's package would.
import PackageDescription

let package = Package(
    name: "VinDrExample",
    dependencies: [.package(name: "VinDr", path: "../..")],
    targets: [
        .executableTarget(name: "RenderInfo", dependencies: [.product(name: "VinDr", package: "VinDr")]),
    ]
)
