using AqaStream.Scoring.Checkpoints;

namespace AqaStream.Scoring.Torch;

/// <summary>The checkpoint formats whose models run on libtorch: the weight-score decoder (<c>ilt-aqa</c>) and the
/// sequence methods. A process registers them once before it loads a checkpoint (<see cref="CheckpointStore.Load"/>).</summary>
public static class TorchFormats
{
    /// <summary>Registers every libtorch format with <see cref="CheckpointStore"/> (idempotent).</summary>
    public static void Register()
    {
        TorchClipScorer.Register();
        Methods.SequenceScorer.Register();
    }
}
