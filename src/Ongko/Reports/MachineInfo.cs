using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ongko.Reports;

/// <summary>The machine a run or a prediction ran on, as a report shows it.</summary>
public sealed record MachineInfo(string Cpu, int Cores, int Threads, string Simd, string Gemm, string DotNet, string OperatingSystem)
{
    /// <summary>This process's machine: CPU name (Linux: /proc/cpuinfo), logical cores, Ongko's worker threads, vector instructions, .NET, OS.</summary>
    public static MachineInfo Current() => new(CpuName(), Environment.ProcessorCount, Kernels.Threads.Count, SimdSupport(), Kernels.Gemm.Description,
                                               RuntimeInformation.FrameworkDescription, RuntimeInformation.OSDescription);

    /// <summary>Rows for the report's table.</summary>
    public IReadOnlyList<(string Name, string Value)> Rows() =>
    [
        ("CPU", Cpu), ("logical cores", Cores.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ("Ongko threads", Threads.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ("vector instructions", Simd), ("SGEMM kernel", Gemm), (".NET", DotNet), ("OS", OperatingSystem),
    ];

    static string CpuName()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                foreach (string line in File.ReadLines("/proc/cpuinfo"))
                    if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':') is int colon and > 0)
                        return line[(colon + 1)..].Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return RuntimeInformation.ProcessArchitecture.ToString();
    }

    static string SimdSupport()
    {
        var names = new List<string>();
        if (Avx512F.IsSupported) names.Add("AVX-512F");
        if (Avx2.IsSupported) names.Add("AVX2");
        if (Fma.IsSupported) names.Add("FMA");
        if (System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported) names.Add("AdvSIMD");
        string widest = Vector512.IsHardwareAccelerated ? "512" : Vector256.IsHardwareAccelerated ? "256" : Vector128.IsHardwareAccelerated ? "128" : "none";
        return (names.Count > 0 ? string.Join(", ", names) : "none") + $"; widest accelerated vector {widest} bits";
    }
}
