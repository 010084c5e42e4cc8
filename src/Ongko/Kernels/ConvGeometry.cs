namespace Ongko.Kernels;

/// <summary>The sizes of one 2-D convolution or pooling window sweep over a single image.</summary>
public readonly record struct ConvGeometry(int Channels, int Height, int Width, int Kernel, int Stride, int Padding)
{
    /// <summary>PyTorch's floor rule: windows that would run past the (padded) edge are dropped.</summary>
    public int OutputHeight => (Height + 2 * Padding - Kernel) / Stride + 1;
    public int OutputWidth => (Width + 2 * Padding - Kernel) / Stride + 1;
    public int OutputPixels => OutputHeight * OutputWidth;
    /// <summary>Rows of the im2col matrix: one per (channel, kernel row, kernel column).</summary>
    public int PatchSize => Channels * Kernel * Kernel;
    public int InputPixels => Height * Width;
}
