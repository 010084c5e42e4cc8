using System.Globalization;
using System.Text;
using Ongko.Serialization;
using Ongko.Cli.Visuals;

namespace Ongko.Cli.Synth;

/// <summary>What <see cref="SyntheticDigitsWriter.Write"/> wrote.</summary>
/// <param name="ImageFolder">The folder of PNGs (OUT/training-s).</param>
/// <param name="CsvPath">The labels (OUT/training-s.csv).</param>
/// <param name="Count">Number of images.</param>
/// <param name="PerDigit">Images per digit, indexed by digit.</param>
/// <param name="Size">Width and height of each image in pixels.</param>
public sealed record SyntheticWriteResult(string ImageFolder, string CsvPath, int Count, int[] PerDigit, int Size);

/// <summary>
/// Writes synthetic digits in NumtaDB's layout: OUT/training-s/*.png (greyscale, black on white)
/// and OUT/training-s.csv with the columns filename, digit, database name original, database name.
/// </summary>
public static class SyntheticDigitsWriter
{
    public const string FolderName = "training-s";
    public const string DatabaseNameOriginal = "OngkoSynth";
    public const string CsvHeader = "filename,digit,database name original,database name";

    public static SyntheticWriteResult Write(string outputFolder, int count, ulong seed, int size = SyntheticDigits.DefaultSize)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outputFolder);
        SyntheticDigits.Validate(count, size);
        string root = Path.GetFullPath(outputFolder);
        string imageFolder = Path.Combine(root, FolderName);
        Directory.CreateDirectory(imageFolder);

        int digitsInName = Math.Max(5, count.ToString(CultureInfo.InvariantCulture).Length);
        string NameOf(int i) => "s_" + i.ToString(CultureInfo.InvariantCulture).PadLeft(digitsInName, '0') + ".png";

        Parallel.For(0, count, i =>
        {
            var digit = SyntheticDigits.Render(SyntheticDigits.DigitOf(i), SyntheticDigits.SampleSeed(seed, i), size);
            AtomicFile.WriteAllBytes(Path.Combine(imageFolder, NameOf(i)), SyntheticDigits.EncodePng(digit), durable: false);
        });

        var perDigit = new int[10];
        var csv = new StringBuilder(CsvHeader.Length + 2 + count * 40);
        csv.Append(CsvHeader).Append('\n');
        for (int i = 0; i < count; i++)
        {
            int digit = SyntheticDigits.DigitOf(i);
            perDigit[digit]++;
            csv.Append(NameOf(i)).Append(',').Append(digit.ToString(CultureInfo.InvariantCulture))
               .Append(',').Append(DatabaseNameOriginal).Append(',').Append(FolderName).Append('\n');
        }
        string csvPath = Path.Combine(root, FolderName + ".csv");
        AtomicFile.WriteAllBytes(csvPath, Encoding.UTF8.GetBytes(csv.ToString()));
        return new SyntheticWriteResult(imageFolder, csvPath, count, perDigit, size);
    }
}
