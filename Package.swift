// swift-tools-version: 6.1
import PackageDescription

// Dependencies point one way: DICOM <- Imaging <- Loader -> Annotations, Boxes.
// VinDrC (the C ABI, libVinDrC.so, shipped as libvindr.so.<major>) and the `vindr` CLI sit on top
// and hold no logic.
let package = Package(
    name: "VinDr",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "VinDrC", type: .dynamic, targets: ["VinDrC"]),
        .library(name: "VinDr", targets: ["VinDrCore", "VinDrDICOM", "VinDrImaging", "VinDrLoader", "VinDrAnnotations", "VinDrBoxes"]),
        .executable(name: "vindr", targets: ["vindr"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(
            name: "CGDCM",
            cxxSettings: [.define("NDEBUG")],
            linkerSettings: [
                .linkedLibrary("gdcmMSFF"), .linkedLibrary("gdcmDICT"), .linkedLibrary("gdcmDSED"), .linkedLibrary("gdcmCommon"),
                .linkedLibrary("openjp2"), .linkedLibrary("openjph"), .linkedLibrary("charls"), .linkedLibrary("z"),
            ]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg"),
        .systemLibrary(name: "CZlib"),
        .systemLibrary(name: "CVinDrHandles"),
        .target(name: "VinDrCore"),
        .target(name: "VinDrDICOM", dependencies: ["VinDrCore", "CGDCM", "CTurboJPEG"]),
        .target(name: "VinDrImaging", dependencies: ["VinDrCore", "VinDrDICOM", "CTurboJPEG", "CZlib"]),
        .target(name: "VinDrBoxes", dependencies: ["VinDrCore"]),
        .target(name: "VinDrAnnotations", dependencies: ["VinDrCore", "VinDrBoxes"]),
        .target(name: "VinDrLoader", dependencies: ["VinDrCore", "VinDrDICOM", "VinDrImaging", "VinDrAnnotations", "VinDrBoxes", "CZlib"]),
        .target(name: "VinDrC", dependencies: ["CVinDrHandles", "VinDrCore", "VinDrDICOM", "VinDrImaging", "VinDrLoader", "VinDrAnnotations", "VinDrBoxes"]),
        .executableTarget(
            name: "vindr",
            dependencies: [
                "VinDrDICOM", "VinDrImaging", "VinDrLoader", "VinDrAnnotations", "VinDrBoxes",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .target(name: "VinDrTestSupport", dependencies: ["VinDrDICOM"], path: "Tests/VinDrTestSupport"),
        .testTarget(name: "VinDrDICOMTests", dependencies: ["VinDrDICOM", "VinDrTestSupport"]),
        .testTarget(name: "VinDrImagingTests", dependencies: ["VinDrImaging", "VinDrTestSupport"]),
        .testTarget(name: "VinDrLoaderTests", dependencies: ["VinDrLoader", "VinDrImaging", "VinDrTestSupport"]),
        .testTarget(name: "VinDrBoxesTests", dependencies: ["VinDrBoxes"]),
        .testTarget(name: "VinDrAnnotationsTests", dependencies: ["VinDrAnnotations"]),
    ],
    swiftLanguageModes: [.v5],
    cxxLanguageStandard: .cxx17
)
