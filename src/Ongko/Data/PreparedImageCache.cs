namespace Ongko.Data;

/// <summary>
/// The loader's cache of prepared images, laid out compactly. The pixels of an image that needs nothing but its pixels
/// (final, or a crop smaller than the output that is resized when rendered) are copied back to back into shared
/// 1 MiB blocks, with a small entry per image: no object per image, so a 50,000-image data set of 28x28 costs its
/// 39 MB of pixels and 1 MB of entries. Images kept for contour cutout (full image, box and outline) stay objects.
/// Thread safety: <see cref="Add"/> may run on several threads at once (each index is added once);
/// <see cref="TryRender"/> of an index may run once its <see cref="Add"/> has returned on any thread that the
/// caller synchronised with (the loader fills batch after batch).
/// </summary>
internal sealed class PreparedImageCache
{
    const int BlockSize = 1 << 20;
    /// <summary>About what the objects around a kept image's arrays cost (PreparedImage, ByteImage, array headers).</summary>
    const int ObjectOverhead = 120;
    readonly Entry[] entries;
    readonly List<byte[]> blocks = [];
    readonly Lock gate = new();
    PreparedImage?[]? objects;
    int used = BlockSize;   // bytes used in the last block
    long objectBytes, pixelBytes;

    /// <summary>Where an image's pixels are: blocks[Block][Offset..], [Planes, Height, Width]; Kind 0 empty, 1 pixels, 2 object.</summary>
    struct Entry
    {
        public int Block, Offset, Height, Width;
        public byte Planes, Kind;
    }

    public PreparedImageCache(int count) => entries = new Entry[count];

    /// <summary>Bytes held: the pixels, an entry per sample, and the objects (pixels, outlines, about their headers); not the unused end of the last block.</summary>
    public long Bytes
    {
        get { lock (gate) return pixelBytes + objectBytes + entries.Length * (long)System.Runtime.CompilerServices.Unsafe.SizeOf<Entry>(); }
    }

    public bool Contains(int index) => entries[index].Kind != 0;

    /// <summary>Keeps <paramref name="prepared"/> for sample <paramref name="index"/>.</summary>
    public void Add(int index, PreparedImage prepared)
    {
        var image = prepared.Image;
        bool pixelsOnly = (prepared.IsFinal || (prepared.Outline.Length == 0 && prepared.Box == new Vision.PixelBox(0, 0, image.Width, image.Height)))
                          && image.Channels <= byte.MaxValue;
        if (!pixelsOnly)
        {
            lock (gate)
            {
                objects ??= new PreparedImage?[entries.Length];
                objects[index] = prepared;
                objectBytes += prepared.ByteCount + ObjectOverhead;
            }
            entries[index] = new Entry { Kind = 2 };
            return;
        }
        int size = image.Channels * image.PlaneSize;
        byte[] block;
        int blockIndex, offset;
        lock (gate)
        {
            if (size > BlockSize)
            {
                // An image larger than a block gets a block of its own; the next small image opens a new block.
                blocks.Add(block = new byte[size]);
                used = BlockSize;
                (blockIndex, offset) = (blocks.Count - 1, 0);
            }
            else
            {
                if (used + size > BlockSize) { blocks.Add(new byte[BlockSize]); used = 0; }
                blockIndex = blocks.Count - 1;
                block = blocks[blockIndex];
                offset = used;
                used += size;
            }
            pixelBytes += size;
        }
        image.Data.AsSpan(0, size).CopyTo(block.AsSpan(offset, size));
        entries[index] = new Entry { Block = blockIndex, Offset = offset, Height = image.Height, Width = image.Width, Planes = (byte)image.Channels, Kind = 1 };
    }

    /// <summary>Renders sample <paramref name="index"/> (<see cref="ImagePipeline.Render"/>) when it is cached; false when it is not.</summary>
    public bool TryRender(int index, ImagePipeline pipeline, Tensors.Rng? rng, Span<float> destination)
    {
        var entry = entries[index];
        switch (entry.Kind)
        {
            case 1:
                byte[] block;
                lock (gate) block = blocks[entry.Block];
                int size = entry.Planes * entry.Height * entry.Width;
                pipeline.RenderPixels(block.AsSpan(entry.Offset, size), entry.Planes, entry.Height, entry.Width, rng, destination);
                return true;
            case 2:
                pipeline.Render(objects![index]!, rng, destination);
                return true;
            default:
                return false;
        }
    }
}
