namespace Ongko.Training;

/// <summary>
/// Counts of (true class, predicted class) and the metrics derived from them: accuracy, per-class
/// precision/recall/F1, and macro-F1 (the unweighted mean of per-class F1, as scikit-learn computes it;
/// a class with no true and no predicted samples gets F1 0, as with zero_division=0).
/// </summary>
public sealed class ConfusionMatrix(int classCount)
{
    readonly long[,] counts = new long[classCount, classCount];

    public int ClassCount { get; } = classCount;
    public long Total { get; private set; }
    public long this[int actual, int predicted] => counts[actual, predicted];

    public void Add(int actual, int predicted)
    {
        counts[actual, predicted]++;
        Total++;
    }

    public void Clear() { Array.Clear(counts); Total = 0; }

    public double Accuracy
    {
        get
        {
            long correct = 0;
            for (int c = 0; c < ClassCount; c++) correct += counts[c, c];
            return Total == 0 ? 0 : (double)correct / Total;
        }
    }

    public (double Precision, double Recall, double F1, long Support) ForClass(int c)
    {
        long truePositives = counts[c, c], predicted = 0, actual = 0;
        for (int k = 0; k < ClassCount; k++) { predicted += counts[k, c]; actual += counts[c, k]; }
        double precision = predicted == 0 ? 0 : (double)truePositives / predicted;
        double recall = actual == 0 ? 0 : (double)truePositives / actual;
        double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
        return (precision, recall, f1, actual);
    }

    public double MacroF1 => Enumerable.Range(0, ClassCount).Average(c => ForClass(c).F1);

    /// <summary>Row-major counts, for saving an interrupted epoch's tally.</summary>
    public long[] ToFlatArray() => counts.Cast<long>().ToArray();

    /// <summary>Adds counts saved by <see cref="ToFlatArray"/>.</summary>
    public void AddFlat(ReadOnlySpan<long> flat)
    {
        if (flat.Length != ClassCount * ClassCount) throw new ArgumentException($"expected {ClassCount * ClassCount} counts, got {flat.Length}");
        for (int i = 0; i < flat.Length; i++) { counts[i / ClassCount, i % ClassCount] += flat[i]; Total += flat[i]; }
    }

    public int[,] ToArray()
    {
        var result = new int[ClassCount, ClassCount];
        for (int a = 0; a < ClassCount; a++)
            for (int p = 0; p < ClassCount; p++) result[a, p] = (int)counts[a, p];
        return result;
    }

    /// <summary>
    /// The text report <c>ongko predict</c> prints: accuracy and macro-F1, per-class precision, recall, F1 and support,
    /// and the matrix itself (rows: true class, columns: predicted).
    /// </summary>
    public string Report()
    {
        var text = new System.Text.StringBuilder();
        text.Append(System.FormattableString.Invariant($"Accuracy {Accuracy:P2}   macro-F1 {MacroF1:F5}\n\n"));
        text.Append("digit  precision  recall      F1  support\n");
        for (int c = 0; c < ClassCount; c++)
        {
            var (p, r, f, support) = ForClass(c);
            text.Append(System.FormattableString.Invariant($"{c,5}  {p,9:F4}  {r,6:F4}  {f,6:F4}  {support,7}\n"));
        }
        text.Append("\nConfusion matrix (rows: true digit, columns: predicted):\n");
        text.Append("     ").Append(string.Concat(Enumerable.Range(0, ClassCount).Select(c => $"{c,6}"))).Append('\n');
        for (int a = 0; a < ClassCount; a++)
            text.Append($"{a,5}").Append(string.Concat(Enumerable.Range(0, ClassCount).Select(p => $"{this[a, p],6}"))).Append('\n');
        return text.ToString();
    }
}
