namespace Ongko.Tests;

/// <summary>
/// Tests that change the global <see cref="Ongko.Kernels.Threads.Count"/> run alone: another test training
/// at the same time would see its work split differently, and bit-exact checks (resume) would flake.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ThreadCountCollection
{
    public const string Name = "changes Threads.Count";
}
