namespace AqaStream.Scoring.Training;

/// <summary>Learning-rate schedules.</summary>
public enum LearningRateSchedule
{
    /// <summary>The same rate throughout (reference).</summary>
    Constant,

    /// <summary>Cosine decay from the base rate to zero over the run, after a linear warm-up.</summary>
    Cosine,
}

/// <summary>How a model is trained. Defaults follow the reference where it has one.</summary>
public sealed record TrainingOptions
{
    /// <summary>Passes over the training split.</summary>
    public int Epochs { get; init; } = 100;

    /// <summary>Performances per step.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Adam learning rate (reference 1e-4).</summary>
    public float LearningRate { get; init; } = 1e-4f;

    /// <summary>Adam L2 weight decay (reference 1e-5).</summary>
    public float WeightDecay { get; init; } = 1e-5f;

    /// <summary>The learning-rate schedule.</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Cosine;

    /// <summary>Epochs of linear warm-up (cosine schedule).</summary>
    public int WarmupEpochs { get; init; } = 3;

    /// <summary>Training sequences are randomly cropped or zero-padded to this many clips (Fis-V reference 136).</summary>
    public int TrainLength { get; init; } = 136;

    /// <summary>Labels are divided by this (Fis-V 43).</summary>
    public float ScoreScale { get; init; } = 43f;

    /// <summary>σ of Gaussian noise added to predictions inside the MSE (reference 0.05).</summary>
    public float PredictionNoiseStd { get; init; } = 0.05f;

    /// <summary>The training list is cut into this many folds after a seeded shuffle.</summary>
    public int Folds { get; init; } = 5;

    /// <summary>Which fold (0-based) is held out for validation.</summary>
    public int ValidationFold { get; init; }

    /// <summary>Stop after this many epochs without a better validation Spearman (0 = never).</summary>
    public int Patience { get; init; } = 30;

    /// <summary>Sequence methods: after the best epoch is restored, fit a line y ≈ a·ŷ + b (least squares, a &gt; 0) of the
    /// judges' scores on the model's predictions over the validation split and fold it into the score mapping. Ranks
    /// within a model do not move; what it removes is each trained model's own offset and scale, which under the
    /// benchmark differ from fold to fold and cost pooled ρ and MSE.</summary>
    public bool Recalibrate { get; init; }

    /// <summary>Sequence methods: train on the judged score plus this multiple of the other judged score
    /// (<see cref="Data.PerformanceSample.TrainingLabel"/>); the epoch is still chosen by the judged score's validation ρ,
    /// and the recalibration line (required) maps the predictions back to the judged score. 0: the judged score alone.</summary>
    public float CompanionWeight { get; init; }

    /// <summary>Seed for initialisation, split, shuffles, crops and dropout.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>The learning rate at optimiser step <paramref name="step"/> (0-based) of <paramref name="totalSteps"/>:
    /// constant, or a linear warm-up over <see cref="WarmupEpochs"/> then cosine decay to zero.</summary>
    public float LearningRateAt(int step, int stepsPerEpoch, int totalSteps)
    {
        if (Schedule == LearningRateSchedule.Constant) { return LearningRate; }
        var warm = WarmupEpochs * stepsPerEpoch;
        if (step < warm) { return LearningRate * (step + 1) / warm; }
        var progress = (double)(step - warm) / Math.Max(1, totalSteps - warm);
        return (float)(LearningRate * 0.5 * (1 + Math.Cos(Math.PI * progress)));
    }

    /// <summary>Whether a validation report beats the best so far (higher Spearman; any number beats none).</summary>
    public static bool Improves(double spearman, Checkpoints.ValidationSummary? best) =>
        best is null || spearman > best.Spearman || (double.IsNaN(best.Spearman) && !double.IsNaN(spearman));

    /// <summary>Throws with a readable message on a bad setting.</summary>
    public void Validate()
    {
        if (Epochs <= 0 || BatchSize <= 0 || TrainLength <= 0) { throw new ArgumentException("Epochs, batch size and training length must be positive."); }
        if (LearningRate <= 0) { throw new ArgumentException("The learning rate must be positive."); }
        if (!(CompanionWeight >= 0) || !float.IsFinite(CompanionWeight)) { throw new ArgumentException($"The companion weight must be 0 or more; got {CompanionWeight}."); }
        if (CompanionWeight > 0 && !Recalibrate) { throw new ArgumentException("A companion weight needs the recalibration line, which maps the mixed label back to the judged score."); }
        if (Folds < 2) { throw new ArgumentException("At least 2 folds are needed to hold one out for validation."); }
        if (ValidationFold < 0 || ValidationFold >= Folds) { throw new ArgumentException($"Validation fold {ValidationFold} is not in 0..{Folds - 1}."); }
        if (ScoreScale <= 0) { throw new ArgumentException("The score scale must be positive."); }
    }
}
