import CKernels

/// Which kernel implementation the CPU dispatch chose.
public enum KernelInfo {
    /// Name of the instruction-set path in use (e.g. `avx512vnni`, `scalar`).
    public static var isaName: String { String(cString: ss_isa_name(ss_isa())) }
}
