using Ongko.Cli.Visuals;
using static Ongko.Tests.Visuals.PngTestHelpers;

namespace Ongko.Tests.Visuals;

public class PictureWriterTests : TemporaryFolders
{
    [Fact]
    public void ImageGrid_lays_out_scaled_images_with_captions_in_a_decodable_png()
    {
        string folder = this.NewFolder();
        string path = Path.Combine(folder, "dataset.png");
        // Five 28x28 images in 3 columns: a white one, a black one, a grey RGB one and two gradients.
        var white = Enumerable.Repeat(1f, 28 * 28).ToArray();
        var black = new float[28 * 28];
        var rgb = new float[3 * 28 * 28];
        for (int i = 0; i < 28 * 28; i++) { rgb[i] = 1f; rgb[28 * 28 + i] = 0f; rgb[2 * 28 * 28 + i] = 0f; } // pure red
        var ramp = Enumerable.Range(0, 28 * 28).Select(i => (i % 28) / 27f).ToArray();
        var items = new List<(float[], int, int, int, string)>
        {
            (white, 1, 28, 28, "white"), (black, 1, 28, 28, "black"), (rgb, 3, 28, 28, "red"),
            (ramp, 1, 28, 28, "7"), (ramp, 1, 28, 28, "9"),
        };

        ImageGrid.Write(path, items, columns: 3);

        var image = Decode(path);
        // 28 px scaled by 4 to 112 px cells; 3 columns, 2 rows, 6 px margins and a 20 px caption strip.
        Assert.Equal(6 + 3 * (112 + 6), image.Width);
        Assert.Equal(6 + 2 * (112 + 20 + 6), image.Height);
        Assert.Equal((255, 255, 255), PixelAt(image, 6 + 56, 6 + 56));            // inside the white cell
        Assert.Equal((0, 0, 0), PixelAt(image, 6 + 118 + 56, 6 + 56));            // inside the black cell
        Assert.Equal((255, 0, 0), PixelAt(image, 6 + 2 * 118 + 56, 6 + 56));      // inside the red cell
        // Captions are drawn: dark text pixels in the strip under the first cell.
        int captionInk = 0;
        for (int y = 6 + 112; y < 6 + 112 + 20; y++)
            for (int x = 6; x < 6 + 112; x++)
                if (PixelAt(image, x, y).Item1 < 100) captionInk++;
        Assert.True(captionInk > 20, $"no caption text under the first image ({captionInk} dark pixels)");
        AssertNoTemporaryFiles(folder);
    }

    [Fact]
    public void ImageGrid_rejects_an_empty_list_and_a_wrong_pixel_count()
    {
        string path = Path.Combine(this.NewFolder(), "grid.png");
        Assert.Throws<ArgumentException>(() => ImageGrid.Write(path, [], 4));
        Assert.Throws<ArgumentException>(() => ImageGrid.Write(path, [(new float[10], 1, 28, 28, "x")], 4));
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void MetricsPlot_draws_three_panels_with_train_and_validation_curves()
    {
        string folder = this.NewFolder();
        string path = Path.Combine(folder, "metrics.png");
        int[] epochs = [1, 2, 3, 4, 5, 6];
        double[] trainLoss = [2.1, 1.2, 0.8, 0.6, 0.5, 0.45], validLoss = [2.0, 1.3, 0.9, 0.75, 0.7, 0.72];
        double[] trainAccuracy = [0.3, 0.6, 0.75, 0.82, 0.86, 0.88], validAccuracy = [0.32, 0.58, 0.7, 0.77, 0.8, 0.8];
        double[] trainF1 = [0.25, 0.58, 0.74, 0.81, 0.85, 0.87], validF1 = [0.3, 0.55, 0.69, 0.75, 0.79, 0.79];

        MetricsPlot.Write(path, epochs, trainLoss, validLoss, trainAccuracy, validAccuracy, trainF1, validF1);

        var image = Decode(path);
        Assert.Equal(3 * MetricsPlot.PanelWidth, image.Width);
        Assert.Equal(MetricsPlot.PanelHeight, image.Height);
        // Train (blue) and validation (red) lines appear in each of the three panels.
        for (int panel = 0; panel < 3; panel++)
        {
            var (blue, red) = (0, 0);
            for (int y = 0; y < image.Height; y++)
                for (int x = panel * MetricsPlot.PanelWidth; x < (panel + 1) * MetricsPlot.PanelWidth; x++)
                {
                    var (r, g, b) = PixelAt(image, x, y);
                    if (Math.Abs(r - 0x1f) < 30 && Math.Abs(g - 0x77) < 30 && Math.Abs(b - 0xb4) < 30) blue++;
                    if (Math.Abs(r - 0xd6) < 30 && Math.Abs(g - 0x27) < 30 && Math.Abs(b - 0x28) < 30) red++;
                }
            Assert.True(blue > 200 && red > 150, $"panel {panel}: {blue} train-coloured and {red} validation-coloured pixels");
        }
        AssertNoTemporaryFiles(folder);
    }

    [Fact]
    public void MetricsPlot_accepts_a_single_epoch_without_validation_and_rejects_mismatched_lengths()
    {
        string folder = this.NewFolder();
        MetricsPlot.Write(Path.Combine(folder, "one.png"), [1], [0.9], [], [0.5], [], [0.4], []);
        Assert.True(DistinctColours(Decode(Path.Combine(folder, "one.png"))) > 10);
        Assert.Throws<ArgumentException>(() =>
            MetricsPlot.Write(Path.Combine(folder, "bad.png"), [1, 2], [0.9, 0.8], [0.9], [0.5, 0.6], [], [0.4, 0.5], []));
    }

    [Fact]
    public void ConfusionMatrixPlot_draws_a_heatmap_whose_dark_cells_are_the_large_fractions()
    {
        string folder = this.NewFolder();
        string path = Path.Combine(folder, "confusion_matrix.png");
        var matrix = new int[10, 10];
        for (int t = 0; t < 10; t++) { matrix[t, t] = 90; matrix[t, (t + 1) % 10] = 10; }
        string[] names = Enumerable.Range(0, 10).Select(i => i.ToString()).ToArray();

        ConfusionMatrixPlot.Write(path, matrix, names);

        var image = Decode(path);
        Assert.True(image.Width >= 400 && image.Height >= 400, $"{image.Width}x{image.Height} is too small to read");
        // Ten diagonal cells at 90% are dark blue: plenty of dark bluish pixels; most of the rest is near white.
        int darkBlue = 0, nearWhite = 0;
        for (int i = 0; i + 2 < image.Data.Length; i += 3)
        {
            int r = image.Data[i], g = image.Data[i + 1], b = image.Data[i + 2];
            if (b > r + 40 && r < 90) darkBlue++;
            if (r > 235 && g > 235 && b > 235) nearWhite++;
        }
        Assert.True(darkBlue > 10 * 30 * 30, $"only {darkBlue} dark blue pixels for ten 90% cells");
        Assert.True(nearWhite > image.Width * image.Height / 4, $"only {nearWhite} near-white pixels");
        AssertNoTemporaryFiles(folder);
    }

    [Fact]
    public void ConfusionMatrixPlot_rejects_a_non_square_matrix_and_wrong_names()
    {
        string path = Path.Combine(this.NewFolder(), "cm.png");
        Assert.Throws<ArgumentException>(() => ConfusionMatrixPlot.Write(path, new int[2, 3], ["a", "b"]));
        Assert.Throws<ArgumentException>(() => ConfusionMatrixPlot.Write(path, new int[2, 2], ["a"]));
    }

    [Fact]
    public void AtomicFile_replaces_an_existing_file_and_leaves_no_temporary_file()
    {
        string folder = this.NewFolder();
        string path = Path.Combine(folder, "x.csv");
        Ongko.Serialization.AtomicFile.WriteAllBytes(path, "old"u8);
        Ongko.Serialization.AtomicFile.WriteAllBytes(path, "new content"u8);
        Assert.Equal("new content", File.ReadAllText(path));
        AssertNoTemporaryFiles(folder);
    }

    static (int, int, int) PixelAt(StbImageSharp.ImageResult image, int x, int y)
    {
        int i = (y * image.Width + x) * 3;
        return (image.Data[i], image.Data[i + 1], image.Data[i + 2]);
    }
}
