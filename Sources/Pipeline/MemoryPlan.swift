#if canImport(Glibc)
import Glibc
#endif
import Model
import Streaming

/// The memory a run will use, sized up front from the model and the attention mode, so that a
/// run that cannot fit refuses to start instead of failing hours in.
public struct MemoryPlan: Sendable, CustomStringConvertible {
    /// The mapped model file (an upper bound of what stays resident).
    public var modelMapping: Int
    /// Packed weight copies for the fast kernels.
    public var packedWeights: Int
    /// Keys and values of the cache.
    public var cache: Int
    /// Scratch buffers of the forward pass.
    public var workspace: Int

    public var total: Int { modelMapping + packedWeights + cache + workspace }

    public init(model: LanguageModel, mode: AttentionMode, chunk: Int, threads: Int) {
        let c = model.config
        modelMapping = model.file.fileSize
        packedWeights = model.weights.allMatrices.reduce(0) { $0 + $1.packedBytes }
        let visible = mode.maxVisible(contextLength: c.contextLength)
        let slots = mode.storageSlots(contextLength: c.contextLength, maxChunk: chunk)
        // The fast path keeps keys and values in half precision, the f32 path in floats.
        cache = LayeredKVStorage.byteCount(config: c, slots: slots, maxChunk: chunk,
                                           element: KVElement(for: model.precision))
        workspace = InferenceEngine.workspaceBytes(config: c, threads: threads, maxChunk: chunk, maxContext: visible)
    }

    /// Physical memory of this machine.
    public static var physicalMemory: Int { Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE))) }

    public var description: String {
        func mib(_ b: Int) -> String { String(Int((Double(b) / 1_048_576).rounded())) + " MiB" }
        return "\(mib(total)) (model mapping \(mib(modelMapping)), packed weights \(mib(packedWeights)), cache \(mib(cache)), buffers \(mib(workspace)))"
    }

    /// Throws when the plan exceeds `limit` bytes (default: the machine's physical memory).
    public func check(limit: Int?) throws {
        let bound = limit ?? Self.physicalMemory
        guard total <= bound else {
            throw RunError(code: "run.memory", runID: "",
                           message: "this run needs about \(self) but the limit is \(bound / 1_048_576) MiB\(limit == nil ? " (physical memory)" : " (--max-memory)"); use a smaller --window or --chunk, or raise --max-memory.")
        }
    }
}
