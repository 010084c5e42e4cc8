using System.Security.Cryptography;
using Ongko.Cli.Commands;
using Ongko.Cli.Synth;
using StbImageSharp;
using static Ongko.Tests.Visuals.PngTestHelpers;

namespace Ongko.Tests.Visuals;

public class SyntheticDigitsTests : TemporaryFolders
{
    [Fact]
    public void Same_seed_gives_identical_digits_and_a_different_seed_different_ones()
    {
        var first = SyntheticDigits.Generate(40, seed: 11, size: 64);
        var again = SyntheticDigits.Generate(40, seed: 11, size: 64);
        var other = SyntheticDigits.Generate(40, seed: 12, size: 64);
        for (int i = 0; i < first.Length; i++)
        {
            Assert.Equal(first[i].Digit, again[i].Digit);
            Assert.True(first[i].Pixels.AsSpan().SequenceEqual(again[i].Pixels), $"sample {i} differs between two runs with one seed");
            Assert.Equal(SyntheticDigits.EncodePng(first[i]), SyntheticDigits.EncodePng(again[i]));
        }
        int differing = Enumerable.Range(0, first.Length).Count(i => !first[i].Pixels.AsSpan().SequenceEqual(other[i].Pixels));
        Assert.Equal(first.Length, differing);
    }

    [Fact]
    public void Labels_are_balanced_over_the_ten_digits()
    {
        var digits = SyntheticDigits.Generate(25, seed: 3, size: 32);
        var counts = digits.GroupBy(d => d.Digit).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(10, counts.Count);
        Assert.All(counts.Values, c => Assert.InRange(c, 2, 3));
    }

    [Theory]
    [InlineData(0)] [InlineData(1)] [InlineData(2)] [InlineData(3)] [InlineData(4)]
    [InlineData(5)] [InlineData(6)] [InlineData(7)] [InlineData(8)] [InlineData(9)]
    public void Every_digit_is_dark_ink_on_light_paper_in_one_connected_piece_inside_the_frame(int digit)
    {
        const int size = 96;
        for (int sample = 0; sample < 20; sample++)
        {
            var image = SyntheticDigits.Render(digit, SyntheticDigits.SampleSeed(99, sample), size);
            var ink = image.Pixels.Select(p => p < 128).ToArray();
            int inkCount = ink.Count(b => b);
            Assert.InRange(inkCount, size * size / 100, size * size / 2);
            // The border is paper: the digit lies wholly inside the picture.
            for (int i = 0; i < size; i++)
                Assert.False(ink[i] || ink[(size - 1) * size + i] || ink[i * size] || ink[i * size + size - 1],
                    $"digit {digit} sample {sample} touches the border");
            // The preprocessing crops to the largest connected region, so the digit must be (almost) one piece.
            Assert.True(LargestComponent(ink, size) >= 0.97 * inkCount,
                $"digit {digit} sample {sample}: largest piece holds {LargestComponent(ink, size)} of {inkCount} ink pixels");
        }
    }

    [Fact]
    public void Writer_lays_out_numtadb_folder_and_csv_deterministically()
    {
        string a = this.NewFolder(), b = this.NewFolder();
        var result = SyntheticDigitsWriter.Write(a, count: 23, seed: 5, size: 48);
        SyntheticDigitsWriter.Write(b, count: 23, seed: 5, size: 48);

        Assert.Equal(Path.Combine(a, "training-s"), result.ImageFolder);
        Assert.Equal(Path.Combine(a, "training-s.csv"), result.CsvPath);
        string[] lines = File.ReadAllLines(result.CsvPath);
        Assert.Equal("filename,digit,database name original,database name", lines[0]);
        Assert.Equal(24, lines.Length);
        var perDigit = new int[10];
        foreach (string line in lines.Skip(1))
        {
            string[] cells = line.Split(',');
            Assert.Equal(4, cells.Length);
            int digit = int.Parse(cells[1]);
            perDigit[digit]++;
            Assert.Equal("training-s", cells[3]);
            string file = Path.Combine(result.ImageFolder, cells[0]);
            var decoded = Decode(file, ColorComponents.Grey);
            Assert.Equal((48, 48), (decoded.Width, decoded.Height));
            Assert.True(decoded.Data.Min() < 100 && decoded.Data.Max() > 200, $"{cells[0]} is blank");
            Assert.Equal(SHA256.HashData(File.ReadAllBytes(file)), SHA256.HashData(File.ReadAllBytes(Path.Combine(b, "training-s", cells[0]))));
        }
        Assert.Equal(result.PerDigit, perDigit);
        Assert.All(perDigit, c => Assert.InRange(c, 2, 3));
        Assert.Equal(File.ReadAllBytes(result.CsvPath), File.ReadAllBytes(Path.Combine(b, "training-s.csv")));
        AssertNoTemporaryFiles(a);
    }

    [Fact]
    public void Synth_command_writes_the_set_and_answers_bad_input_with_exit_code_2()
    {
        string folder = this.NewFolder();
        Assert.Equal(0, SynthCommand.Create().Parse(["--out", folder, "--count", "12", "--seed", "4", "--size", "32"]).Invoke());
        Assert.Equal(13, File.ReadAllLines(Path.Combine(folder, "training-s.csv")).Length);
        Assert.Equal(12, Directory.GetFiles(Path.Combine(folder, "training-s"), "*.png").Length);

        Assert.Equal(2, SynthCommand.Create().Parse(["--out", folder, "--count", "0"]).Invoke());
        string aFile = Path.Combine(folder, "not-a-folder");
        File.WriteAllText(aFile, "x");
        Assert.Equal(2, SynthCommand.Create().Parse(["--out", Path.Combine(aFile, "inside"), "--count", "3"]).Invoke());
    }

    static int LargestComponent(bool[] ink, int size)
    {
        var seen = new bool[ink.Length];
        var stack = new Stack<int>();
        int best = 0;
        for (int start = 0; start < ink.Length; start++)
        {
            if (!ink[start] || seen[start]) continue;
            int count = 0;
            seen[start] = true; stack.Push(start);
            while (stack.Count > 0)
            {
                int p = stack.Pop(); count++;
                int x = p % size, y = p / size;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++)
                    {
                        int nx = x + dx, ny = y + dy;
                        if (nx < 0 || ny < 0 || nx >= size || ny >= size) continue;
                        int q = ny * size + nx;
                        if (ink[q] && !seen[q]) { seen[q] = true; stack.Push(q); }
                    }
            }
            best = Math.Max(best, count);
        }
        return best;
    }
}
