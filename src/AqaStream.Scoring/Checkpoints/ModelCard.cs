using System.Text.Json;
using System.Text.Json.Serialization;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Model;

namespace AqaStream.Scoring.Checkpoints;

/// <summary>Validation figures recorded with a checkpoint.</summary>
/// <param name="Baselines">The constant and ridge-mean baselines on the same validation split, fitted on the same training
/// performances (<see cref="Evaluation.ValidationBaselines"/>); null on cards written before they were recorded.</param>
public sealed record ValidationSummary(double Spearman, double Pearson, double Mse, double RelativeL2, int Count, int Epoch,
    IReadOnlyList<BaselineFigures>? Baselines = null)
{
    /// <summary>
    /// Why a model with these figures is not fit for air: it loses to a recorded baseline (a higher MSE than the
    /// constant or ridge-mean, or a lower ρ than ridge-mean), every loss named; null when it beats them or none are recorded.
    /// </summary>
    public string? LosesToBaselines()
    {
        if (Baselines is not { Count: > 0 } baselines) { return null; }
        var losses = new List<string>();
        foreach (var b in baselines)
        {
            if (Mse > b.Mse) { losses.Add(FormattableString.Invariant($"MSE {Mse:F2} against {b.Name}'s {b.Mse:F2}")); }
            if (b.Spearman is { } rho && Spearman < rho) { losses.Add(FormattableString.Invariant($"ρ {Spearman:F3} against {b.Name}'s {rho:F3}")); }
        }
        return losses.Count == 0 ? null
            : $"on its validation split ({Count} performances) it loses to the baselines: {string.Join("; ", losses)}";
    }
}

/// <summary>A baseline scored on the same performances as a model.</summary>
/// <param name="Name"><c>constant</c> or <c>ridge-mean</c>.</param>
/// <param name="Description">What it is, for people.</param>
/// <param name="TrainedOn">Labelled performances it was fitted on.</param>
/// <param name="Spearman">Its Spearman ρ (null for the constant, which ranks nothing).</param>
/// <param name="Mse">Its mean squared error.</param>
/// <param name="Bias">Its mean signed error (predicted − judged).</param>
public sealed record BaselineFigures(string Name, string Description, int TrainedOn, double? Spearman, double Mse, double Bias)
{
    /// <summary>One line for the console: <c>ridge-mean: spearman 0.5926  mse 22.641  bias +0.25</c>.</summary>
    public string Summary() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"{Name}: spearman {(Spearman is { } rho ? rho.ToString("F4", System.Globalization.CultureInfo.InvariantCulture) : "–")}  mse {Mse:F3}  bias {Bias:+0.00;-0.00}");
}

/// <summary>What a checkpoint was trained on, and how.</summary>
public sealed record TrainingProvenance(
    string Dataset,
    int TrainCount,
    int ValidationCount,
    string Split,
    IReadOnlyDictionary<string, string> Settings,
    double Seconds,
    IReadOnlyList<string> ValidationIds);

/// <summary>
/// The model card stored beside (and inside) a checkpoint: architecture, target, score scale, data, validation metrics, seed.
/// </summary>
public sealed record ModelCard
{
    /// <summary>The format tag of weight-score decoder (<c>ilt-aqa</c>) cards.</summary>
    public const string CurrentFormat = "aqastream.weight-score-decoder/1";

    /// <summary>The format tag of <c>ridge-mean</c> cards (architecture: only <c>featureDim</c> and <c>maxQueries</c> apply).</summary>
    public const string RidgeFormat = "aqastream.mean-pooled-ridge/1";

    /// <summary>The format tag of <c>ridge-pos</c> cards (tensors <c>ridge.coefficients</c> [K, D] and <c>ridge.offsets</c> [1]).</summary>
    public const string PositionalRidgeFormat = "aqastream.positional-ridge/1";

    /// <summary>The format tag of libtorch sequence methods (<c>mlp-mean</c>, <c>gdlt</c>, <c>cofinal</c>, <c>gdlt-ws</c>); their
    /// architecture is <see cref="SequenceMethod"/>.</summary>
    public const string SequenceFormat = "aqastream.sequence-method/1";

    /// <summary>The format tag of ensembles and blends (<see cref="Ensemble"/>): each member's tensors under
    /// <c>members.{i}.</c> and its own card inside this one.</summary>
    public const string EnsembleFormat = "aqastream.ensemble/1";

    /// <summary>The method a card's format stands for.</summary>
    [JsonIgnore]
    public string Method => Format switch
    {
        RidgeFormat => MeanPooledRidge.MethodName,
        PositionalRidgeFormat => PositionalRidge.MethodName,
        SequenceFormat => SequenceMethod?.Method ?? "unknown",
        EnsembleFormat => Ensemble?.Method ?? "unknown",
        _ => DecoderOptions.MethodName,
    };

    /// <summary>The members of an ensemble (format <see cref="EnsembleFormat"/>); null otherwise.</summary>
    public EnsembleSpec? Ensemble { get; init; }

    /// <summary>The architecture of a sequence method (format <see cref="SequenceFormat"/>); null otherwise.</summary>
    public SequenceMethodOptions? SequenceMethod { get; init; }

    /// <summary>Format tag.</summary>
    public string Format { get; init; } = CurrentFormat;

    /// <summary>A short model id for logs and messages, e.g. <c>fisv-tes</c>.</summary>
    public string ModelId { get; init; } = "unnamed";

    /// <summary>The architecture options.</summary>
    public DecoderOptions Architecture { get; init; } = new();

    /// <summary>The judged score the model predicts.</summary>
    [JsonConverter(typeof(JsonStringEnumConverter<ScoreTarget>))]
    public ScoreTarget Target { get; init; } = ScoreTarget.TES;

    /// <summary>Labels are divided by this for training; predictions are multiplied by it (Fis-V: 43).</summary>
    public float ScoreScale { get; init; } = 43f;

    /// <summary>Seed of initialisation, shuffling and dropout.</summary>
    public int Seed { get; init; }

    /// <summary>Training data and settings; null for an exported or untrained model.</summary>
    public TrainingProvenance? Training { get; init; }

    /// <summary>Best validation metrics; null when not validated.</summary>
    public ValidationSummary? Validation { get; init; }

    /// <summary>Why this model is not fit for air (<see cref="ValidationSummary.LosesToBaselines"/>); null when it beats
    /// the baselines on its card or none are recorded.</summary>
    public string? LosesToBaselines() => Validation?.LosesToBaselines();

    /// <summary>UTC time of writing.</summary>
    public DateTimeOffset Created { get; init; } = DateTimeOffset.UtcNow;

    /// <summary>JSON options shared by card readers and writers.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The card as indented JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Parses a card; <paramref name="source"/> names it in errors.</summary>
    public static ModelCard Parse(string json, string source)
    {
        try
        {
            var card = JsonSerializer.Deserialize<ModelCard>(json, Json) ?? throw new JsonException("empty card");
            string[] formats = [CurrentFormat, RidgeFormat, PositionalRidgeFormat, SequenceFormat, EnsembleFormat];
            if (!formats.Contains(card.Format, StringComparer.Ordinal))
            {
                throw new DataFormatException($"{source}: model card format '{card.Format}' is not one of {string.Join(", ", formats.Select(f => $"'{f}'"))}.");
            }
            card.Architecture.Validate();
            if (card.Format == SequenceFormat)
            {
                (card.SequenceMethod ?? throw new ArgumentException($"a '{SequenceFormat}' card needs 'sequenceMethod'.")).Validate();
            }
            if (card.Format == EnsembleFormat)
            {
                var spec = card.Ensemble ?? throw new ArgumentException($"a '{EnsembleFormat}' card needs 'ensemble'.");
                if (spec.Members is not { Count: > 0 }) { throw new ArgumentException("an ensemble card needs at least one member."); }
                if (spec.Members.Any(m => !(m.Weight > 0) || !double.IsFinite(m.Weight) || m.Card is null)) { throw new ArgumentException("every ensemble member needs a positive weight and a card."); }
                if (spec.Members.Any(m => m.Card.Format == EnsembleFormat)) { throw new ArgumentException("an ensemble member cannot be an ensemble."); }
            }
            return card;
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            throw new DataFormatException($"{source}: invalid model card ({e.Message}).", e);
        }
    }
}

/// <summary>An ensemble's members: each one's weight (normalised when loaded) and card.</summary>
/// <param name="Method">The ensemble's method name, e.g. <c>gdlt-ws</c> for a cross-fit ensemble or <c>gdlt-ws+ridge-mean</c>.</param>
/// <param name="Members">The members, in tensor-prefix order (<c>members.0.</c>, <c>members.1.</c>, ...).</param>
public sealed record EnsembleSpec(string Method, IReadOnlyList<EnsembleMember> Members);

/// <summary>One member of an ensemble.</summary>
/// <param name="Weight">Its weight in the average.</param>
/// <param name="Card">Its own card (format, architecture, training).</param>
public sealed record EnsembleMember(double Weight, ModelCard Card);

