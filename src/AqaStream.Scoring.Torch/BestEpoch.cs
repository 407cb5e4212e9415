using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Metrics;
using AqaStream.Scoring.Training;
using static TorchSharp.torch;

namespace AqaStream.Scoring.Torch;

/// <summary>
/// The best-epoch rule both libtorch trainers follow: after each epoch the validation report is observed; a better ρ
/// (<see cref="TrainingOptions.Improves"/>) snapshots the tensors; <see cref="Stop"/> after the patience runs out;
/// <see cref="Restore"/> copies the best snapshot back. Owns its snapshots.
/// </summary>
internal sealed class BestEpoch(IReadOnlyList<Tensor> state, int patience) : IDisposable
{
    private Tensor[]? _snapshot;
    private int _sinceBest;

    /// <summary>The best epoch's figures so far (null before the first epoch).</summary>
    public ValidationSummary? Best { get; private set; }

    /// <summary>Whether early stopping says to stop.</summary>
    public bool Stop => patience > 0 && _sinceBest >= patience;

    /// <summary>Records an epoch; true when it is the new best.</summary>
    public bool Observe(int epoch, RegressionReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (!TrainingOptions.Improves(report.Spearman, Best))
        {
            _sinceBest++;
            return false;
        }
        Best = new ValidationSummary(report.Spearman, report.Pearson, report.Mse, report.RelativeL2, report.Count, epoch);
        DisposeSnapshot();
        _snapshot = [.. state.Select(t => t.detach().clone())];
        _sinceBest = 0;
        return true;
    }

    /// <summary>Copies the best epoch's values back into the tensors.</summary>
    public void Restore()
    {
        if (_snapshot is null) { throw new InvalidOperationException("No epoch was observed."); }
        using var _ = no_grad();
        for (var i = 0; i < state.Count; i++) { state[i].copy_(_snapshot[i]); }
    }

    private void DisposeSnapshot()
    {
        if (_snapshot is null) { return; }
        foreach (var t in _snapshot) { t.Dispose(); }
        _snapshot = null;
    }

    /// <inheritdoc/>
    public void Dispose() => DisposeSnapshot();
}
