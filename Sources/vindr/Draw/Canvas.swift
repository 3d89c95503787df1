/// An 8-bit RGB image to draw boxes and text on.
struct Canvas {
    let width: Int
    let height: Int
    var pixels: [UInt8]

    init(width: Int, height: Int, fill: UInt8 = 0) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: fill, count: width * height * 3)
    }

    /// A grey image as RGB, placed at (x, y).
    mutating func paste(grey: [UInt8], width w: Int, height h: Int, x: Int, y: Int) {
        for row in 0..<h where row + y >= 0 && row + y < height {
            for col in 0..<w where col + x >= 0 && col + x < width {
                let v = grey[row * w + col]
                let o = ((row + y) * width + col + x) * 3
                pixels[o] = v
                pixels[o + 1] = v
                pixels[o + 2] = v
            }
        }
    }

    mutating func pasteRGB(_ other: Canvas, x: Int, y: Int) {
        for row in 0..<other.height where row + y >= 0 && row + y < height {
            for col in 0..<other.width where col + x >= 0 && col + x < width {
                let s = (row * other.width + col) * 3, d = ((row + y) * width + col + x) * 3
                pixels[d] = other.pixels[s]
                pixels[d + 1] = other.pixels[s + 1]
                pixels[d + 2] = other.pixels[s + 2]
            }
        }
    }

    mutating func set(_ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8)) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let o = (y * width + x) * 3
        pixels[o] = c.0
        pixels[o + 1] = c.1
        pixels[o + 2] = c.2
    }

    mutating func fill(x: Int, y: Int, w: Int, h: Int, _ c: (UInt8, UInt8, UInt8)) {
        for yy in y..<(y + h) { for xx in x..<(x + w) { set(xx, yy, c) } }
    }

    /// A rectangle outline `thickness` pixels wide.
    mutating func rectangle(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: (UInt8, UInt8, UInt8), thickness: Int) {
        for t in 0..<thickness {
            for x in x0...max(x0, x1) {
                set(x, y0 + t, c)
                set(x, y1 - t, c)
            }
            for y in y0...max(y0, y1) {
                set(x0 + t, y, c)
                set(x1 - t, y, c)
            }
        }
    }

    /// Text in the built-in 3x5 font (upper case), each font pixel `scale` pixels wide, on a
    /// dark backing so it reads on any image. Returns the width drawn.
    @discardableResult
    mutating func text(_ s: String, x: Int, y: Int, scale: Int, _ c: (UInt8, UInt8, UInt8)) -> Int {
        let glyphs = Array(s.uppercased())
        let w = glyphs.count * 4 * scale + scale
        fill(x: x, y: y, w: w, h: 7 * scale, (0, 0, 0))
        for (i, ch) in glyphs.enumerated() {
            let rows = TinyFont.glyph(ch)
            for (r, bits) in rows.enumerated() {
                for col in 0..<3 where bits & (4 >> col) != 0 {
                    fill(x: x + scale + (i * 4 + col) * scale, y: y + scale + r * scale, w: scale, h: scale, c)
                }
            }
        }
        return w
    }
}

/// A 3x5 pixel font: per character five rows of 3 bits (most significant bit on the left).
enum TinyFont {
    static let table: [Character: [UInt8]] = [
        "A": [2, 5, 7, 5, 5], "B": [6, 5, 6, 5, 6], "C": [3, 4, 4, 4, 3], "D": [6, 5, 5, 5, 6], "E": [7, 4, 6, 4, 7],
        "F": [7, 4, 6, 4, 4], "G": [3, 4, 5, 5, 3], "H": [5, 5, 7, 5, 5], "I": [7, 2, 2, 2, 7], "J": [1, 1, 1, 5, 2],
        "K": [5, 5, 6, 5, 5], "L": [4, 4, 4, 4, 7], "M": [5, 7, 7, 5, 5], "N": [6, 5, 5, 5, 5], "O": [2, 5, 5, 5, 2],
        "P": [6, 5, 6, 4, 4], "Q": [2, 5, 5, 6, 3], "R": [6, 5, 6, 5, 5], "S": [3, 4, 2, 1, 6], "T": [7, 2, 2, 2, 2],
        "U": [5, 5, 5, 5, 7], "V": [5, 5, 5, 5, 2], "W": [5, 5, 7, 7, 5], "X": [5, 5, 2, 5, 5], "Y": [5, 5, 2, 2, 2],
        "Z": [7, 1, 2, 4, 7], "0": [7, 5, 5, 5, 7], "1": [2, 6, 2, 2, 7], "2": [6, 1, 2, 4, 7], "3": [6, 1, 2, 1, 6],
        "4": [5, 5, 7, 1, 1], "5": [7, 4, 6, 1, 6], "6": [3, 4, 7, 5, 7], "7": [7, 1, 2, 2, 2], "8": [7, 5, 7, 5, 7],
        "9": [7, 5, 7, 1, 6], "/": [1, 1, 2, 4, 4], "-": [0, 0, 7, 0, 0], ".": [0, 0, 0, 0, 2], ",": [0, 0, 0, 2, 4],
        ":": [0, 2, 0, 2, 0], "(": [1, 2, 2, 2, 1], ")": [4, 2, 2, 2, 4], "%": [5, 1, 2, 4, 5], " ": [0, 0, 0, 0, 0],
    ]

    static func glyph(_ c: Character) -> [UInt8] { table[c] ?? [7, 7, 7, 7, 7] }
}
