/// Typed metadata accessors. The optional forms return nil when the key is absent or holds
/// another type; the `require…` forms throw `GGUFError.missingKey` / `.wrongType` instead.
extension GGUFFile {
    /// The string at `key`, or nil.
    public func string(_ key: String) -> String? {
        metadata[key]?.stringValue
    }

    /// The integer at `key` (any integer type that fits in `Int`), or nil.
    public func integer(_ key: String) -> Int? {
        metadata[key]?.intValue
    }

    /// The number at `key` (a float, or an integer converted), or nil.
    public func float(_ key: String) -> Double? {
        metadata[key]?.doubleValue
    }

    /// The bool at `key`, or nil.
    public func bool(_ key: String) -> Bool? {
        metadata[key]?.boolValue
    }

    /// The array of strings at `key`, or nil if absent or any element is not a string.
    public func stringArray(_ key: String) -> [String]? {
        guard case .array(let elements) = metadata[key] else { return nil }
        var result: [String] = []
        result.reserveCapacity(elements.count)
        for element in elements {
            guard case .string(let s) = element else { return nil }
            result.append(s)
        }
        return result
    }

    /// The array of integers at `key`, or nil if absent or any element is not an integer.
    public func integerArray(_ key: String) -> [Int]? {
        guard case .array(let elements) = metadata[key] else { return nil }
        var result: [Int] = []
        result.reserveCapacity(elements.count)
        for element in elements {
            guard let value = element.intValue else { return nil }
            result.append(value)
        }
        return result
    }

    /// The array of numbers at `key` as `Float`, or nil if absent or any element is not a number.
    public func floatArray(_ key: String) -> [Float]? {
        guard case .array(let elements) = metadata[key] else { return nil }
        var result: [Float] = []
        result.reserveCapacity(elements.count)
        for element in elements {
            if case .float32(let value) = element {
                result.append(value)
            } else if let value = element.doubleValue {
                result.append(Float(value))
            } else {
                return nil
            }
        }
        return result
    }

    /// The string at `key`.
    /// - Throws: `GGUFError.missingKey` or `.wrongType`.
    public func requireString(_ key: String) throws(GGUFError) -> String {
        try require(key, expected: "string", string)
    }

    /// The integer at `key`.
    /// - Throws: `GGUFError.missingKey` or `.wrongType`.
    public func requireInteger(_ key: String) throws(GGUFError) -> Int {
        try require(key, expected: "integer", integer)
    }

    /// The number at `key` (float or integer).
    /// - Throws: `GGUFError.missingKey` or `.wrongType`.
    public func requireFloat(_ key: String) throws(GGUFError) -> Double {
        try require(key, expected: "number", float)
    }

    /// The bool at `key`.
    /// - Throws: `GGUFError.missingKey` or `.wrongType`.
    public func requireBool(_ key: String) throws(GGUFError) -> Bool {
        try require(key, expected: "bool", bool)
    }

    /// The array of strings at `key`.
    /// - Throws: `GGUFError.missingKey` or `.wrongType`.
    public func requireStringArray(_ key: String) throws(GGUFError) -> [String] {
        try require(key, expected: "array of string", stringArray)
    }

    /// The array of integers at `key`.
    /// - Throws: `GGUFError.missingKey` or `.wrongType`.
    public func requireIntegerArray(_ key: String) throws(GGUFError) -> [Int] {
        try require(key, expected: "array of integers", integerArray)
    }

    /// The array of numbers at `key`.
    /// - Throws: `GGUFError.missingKey` or `.wrongType`.
    public func requireFloatArray(_ key: String) throws(GGUFError) -> [Float] {
        try require(key, expected: "array of numbers", floatArray)
    }

    private func require<T>(
        _ key: String, expected: String, _ accessor: (String) -> T?
    ) throws(GGUFError) -> T {
        guard let value = metadata[key] else { throw .missingKey(file: path, key: key) }
        guard let typed = accessor(key) else {
            throw .wrongType(file: path, key: key, expected: expected, found: value.typeName)
        }
        return typed
    }
}
