namespace Ongko.Cli.Synth;

/// <summary>
/// Hand-designed pen-stroke skeletons of the ten Bengali digits, drawn from the real handwriting in
/// CMATERdb and NumtaDB. Coordinates are on a unit square, x to the right and y downwards; each
/// stroke is a list of points a smooth spline passes through. Every digit has a few variants, the
/// common ways people write it. Where a digit takes two strokes, the second starts on the first, so
/// the digit stays one connected region (the preprocessing crops to the largest one).
/// </summary>
public static class DigitSkeletons
{
    /// <summary>The Bengali digits ০ ১ ২ ৩ ৪ ৫ ৬ ৭ ৮ ৯, indexed by value.</summary>
    public static readonly string[] Glyphs = ["০", "১", "২", "৩", "৪", "৫", "৬", "৭", "৮", "৯"];

    /// <summary>Variants[digit][variant][stroke] = points (x, y) on the unit square.</summary>
    public static readonly (float X, float Y)[][][][] Variants =
    [
        // ০ (0): an upright oval, usually closed, the pen overshooting its start a little.
        [
            [[(0.55f, 0.05f), (0.22f, 0.15f), (0.12f, 0.5f), (0.25f, 0.88f), (0.55f, 0.95f), (0.82f, 0.78f), (0.88f, 0.4f), (0.72f, 0.1f), (0.5f, 0.06f), (0.38f, 0.12f)]],
            [[(0.35f, 0.12f), (0.15f, 0.45f), (0.22f, 0.82f), (0.5f, 0.95f), (0.8f, 0.82f), (0.88f, 0.45f), (0.7f, 0.1f), (0.45f, 0.05f), (0.3f, 0.2f)]],
        ],
        // ১ (1): a hood from the top left over to the right and down, then a loop at the bottom
        // left and a short tail to the right. It ends low; ৯ ends high on the right.
        [
            [[(0.12f, 0.2f), (0.45f, 0.05f), (0.8f, 0.18f), (0.88f, 0.5f), (0.7f, 0.85f), (0.42f, 0.92f), (0.22f, 0.8f), (0.3f, 0.6f), (0.48f, 0.66f), (0.52f, 0.85f), (0.7f, 0.95f), (0.92f, 0.9f)]],
            [[(0.18f, 0.28f), (0.1f, 0.12f), (0.3f, 0.05f), (0.7f, 0.12f), (0.85f, 0.45f), (0.72f, 0.78f), (0.4f, 0.9f), (0.18f, 0.78f), (0.3f, 0.58f), (0.5f, 0.7f), (0.6f, 0.92f), (0.88f, 0.95f)]],
            [[(0.08f, 0.3f), (0.35f, 0.08f), (0.72f, 0.12f), (0.82f, 0.4f), (0.6f, 0.72f), (0.3f, 0.85f), (0.15f, 0.72f), (0.3f, 0.55f), (0.45f, 0.75f), (0.55f, 0.93f), (0.95f, 0.88f)]],
        ],
        // ২ (2): like a Latin 2 with a long flat foot, often a small kink where diagonal meets foot.
        [
            [[(0.15f, 0.25f), (0.35f, 0.07f), (0.68f, 0.08f), (0.78f, 0.3f), (0.55f, 0.55f), (0.25f, 0.8f), (0.22f, 0.92f), (0.55f, 0.88f), (0.92f, 0.92f)]],
            [[(0.12f, 0.12f), (0.5f, 0.08f), (0.78f, 0.12f), (0.6f, 0.42f), (0.3f, 0.72f), (0.22f, 0.88f), (0.35f, 0.8f), (0.62f, 0.86f), (0.95f, 0.95f)]],
            [[(0.2f, 0.18f), (0.5f, 0.05f), (0.75f, 0.2f), (0.65f, 0.45f), (0.35f, 0.7f), (0.18f, 0.9f), (0.5f, 0.92f), (0.88f, 0.85f)]],
        ],
        // ৩ (3): down the left side, round the bottom, up the right, curling inwards to a small loop.
        [
            [[(0.3f, 0.05f), (0.12f, 0.4f), (0.25f, 0.82f), (0.55f, 0.94f), (0.84f, 0.72f), (0.88f, 0.4f), (0.72f, 0.22f), (0.52f, 0.3f), (0.5f, 0.5f), (0.64f, 0.56f), (0.74f, 0.44f)]],
            [[(0.15f, 0.08f), (0.12f, 0.5f), (0.35f, 0.9f), (0.68f, 0.88f), (0.88f, 0.6f), (0.82f, 0.3f), (0.6f, 0.22f), (0.48f, 0.4f), (0.6f, 0.55f), (0.72f, 0.42f), (0.62f, 0.34f)]],
        ],
        // ৪ (4): two stacked loops like a Latin 8, the lower one a little larger.
        [
            [[(0.62f, 0.1f), (0.42f, 0.06f), (0.28f, 0.2f), (0.4f, 0.4f), (0.6f, 0.52f), (0.78f, 0.72f), (0.6f, 0.94f), (0.3f, 0.92f), (0.2f, 0.72f), (0.4f, 0.52f), (0.62f, 0.4f), (0.72f, 0.2f), (0.55f, 0.06f)]],
            [[(0.5f, 0.48f), (0.25f, 0.32f), (0.32f, 0.08f), (0.58f, 0.05f), (0.72f, 0.25f), (0.5f, 0.48f), (0.2f, 0.68f), (0.3f, 0.92f), (0.65f, 0.94f), (0.8f, 0.72f), (0.52f, 0.5f)]],
        ],
        // ৫ (5): a large C open to the right, with a stroke inside that runs from its top down and
        // hooks out to the right.
        [
            [[(0.85f, 0.15f), (0.5f, 0.05f), (0.18f, 0.3f), (0.14f, 0.65f), (0.4f, 0.92f), (0.85f, 0.86f)],
             [(0.78f, 0.12f), (0.62f, 0.4f), (0.5f, 0.68f), (0.62f, 0.8f), (0.85f, 0.74f)]],
            [[(0.8f, 0.12f), (0.45f, 0.06f), (0.15f, 0.35f), (0.18f, 0.75f), (0.5f, 0.94f), (0.88f, 0.82f)],
             [(0.45f, 0.06f), (0.5f, 0.3f), (0.7f, 0.35f), (0.5f, 0.55f), (0.75f, 0.65f), (0.6f, 0.82f)]],
            [[(0.45f, 0.3f), (0.7f, 0.08f), (0.45f, 0.05f), (0.15f, 0.35f), (0.15f, 0.7f), (0.45f, 0.93f), (0.85f, 0.88f)],
             [(0.45f, 0.3f), (0.48f, 0.6f), (0.6f, 0.78f), (0.85f, 0.72f)]],
        ],
        // ৬ (6): a U whose left arm starts at the top and whose right arm rises to about mid
        // height; inside it a stroke that leaves the bottom of the U, curls to the right and
        // climbs straight to the top.
        [
            [[(0.12f, 0.05f), (0.12f, 0.55f), (0.3f, 0.88f), (0.6f, 0.92f), (0.85f, 0.7f), (0.9f, 0.35f)],
             [(0.55f, 0.9f), (0.62f, 0.74f), (0.76f, 0.6f), (0.66f, 0.44f), (0.5f, 0.42f), (0.52f, 0.05f)]],
            [[(0.18f, 0.05f), (0.15f, 0.5f), (0.28f, 0.85f), (0.58f, 0.93f), (0.82f, 0.75f), (0.86f, 0.45f)],
             [(0.5f, 0.92f), (0.55f, 0.7f), (0.72f, 0.55f), (0.55f, 0.45f), (0.45f, 0.3f), (0.5f, 0.05f)]],
        ],
        // ৭ (7): like a Latin 9 with a flat top: a bowl hanging from a top bar on the left and a
        // long straight descender on the right.
        [
            [[(0.15f, 0.12f), (0.17f, 0.4f), (0.4f, 0.54f), (0.66f, 0.42f), (0.74f, 0.14f)],
             [(0.15f, 0.12f), (0.5f, 0.08f), (0.78f, 0.1f), (0.74f, 0.5f), (0.7f, 0.95f)]],
            [[(0.22f, 0.1f), (0.12f, 0.32f), (0.3f, 0.52f), (0.6f, 0.48f), (0.76f, 0.22f), (0.6f, 0.08f), (0.3f, 0.1f)],
             [(0.6f, 0.08f), (0.82f, 0.1f), (0.76f, 0.55f), (0.78f, 0.95f)]],
        ],
        // ৮ (8): a stem from the top down the left, a bowl at the bottom closing at mid height,
        // and from there a long bar to the right.
        [
            [[(0.32f, 0.05f), (0.2f, 0.3f), (0.2f, 0.7f), (0.34f, 0.92f), (0.56f, 0.84f), (0.6f, 0.58f), (0.42f, 0.46f), (0.62f, 0.44f), (0.95f, 0.43f)]],
            [[(0.25f, 0.05f), (0.22f, 0.5f), (0.3f, 0.9f), (0.55f, 0.88f), (0.62f, 0.62f), (0.45f, 0.45f), (0.25f, 0.5f)],
             [(0.25f, 0.46f), (0.6f, 0.42f), (0.95f, 0.4f)]],
        ],
        // ৯ (9): a small curl at the left middle, a dip to the bottom, then a tall arm rising to the
        // top right. It ends high on the right; ১ ends low.
        [
            [[(0.4f, 0.4f), (0.12f, 0.45f), (0.1f, 0.72f), (0.36f, 0.64f), (0.3f, 0.84f), (0.5f, 0.93f), (0.72f, 0.76f), (0.84f, 0.45f), (0.86f, 0.05f)]],
            [[(0.1f, 0.12f), (0.3f, 0.32f), (0.42f, 0.48f), (0.15f, 0.5f), (0.15f, 0.75f), (0.4f, 0.68f), (0.38f, 0.86f), (0.58f, 0.92f), (0.78f, 0.66f), (0.88f, 0.32f), (0.82f, 0.05f)]],
            [[(0.28f, 0.52f), (0.1f, 0.6f), (0.18f, 0.78f), (0.35f, 0.68f), (0.45f, 0.48f), (0.55f, 0.75f), (0.62f, 0.9f), (0.8f, 0.62f), (0.9f, 0.3f), (0.78f, 0.05f), (0.62f, 0.1f)]],
        ],
    ];
}
