using System.Collections.Concurrent;
using AqaStream.Pipeline.Live;
using AqaStream.Scoring.Data;

namespace AqaStream.Server.Hosting;

/// <summary>
/// The models the scorer uses, one per score target, and the checkpoints an operator may switch to. The live
/// pipeline reads <see cref="InUse"/> when a performance starts, so a switch applies from the next performance on;
/// performances already running keep the model they started with.
/// </summary>
public sealed class ModelRegistry
{
    private readonly ConcurrentDictionary<ScoreTarget, ScoringModel> _inUse = new();
    private readonly Dictionary<ScoreTarget, string> _names = [];
    private readonly Lock _gate = new();
    private readonly Func<ScoringModel, ScoringModel> _prepare;
    private readonly bool _allowBelowBaseline;

    /// <summary>Starts with <paramref name="initial"/> (file name → model) in use.</summary>
    /// <param name="modelsDirectory">Where selectable checkpoints (<c>NAME.safetensors</c> + card) live.</param>
    /// <param name="featureDimension">Values per clip the live features have: a model must read exactly these.</param>
    /// <param name="initial">Models in use at start, by checkpoint name (already prepared).</param>
    /// <param name="prepare">What a selected checkpoint goes through once loaded (the scoring engine and device the
    /// service runs; default: as loaded).</param>
    /// <param name="allowBelowBaseline">Whether <see cref="Select"/> may switch to a checkpoint that loses to the baselines
    /// recorded on its card (<see cref="Scoring.Checkpoints.ModelCard.LosesToBaselines"/>); refused otherwise.</param>
    public ModelRegistry(string modelsDirectory, int featureDimension, IReadOnlyDictionary<string, ScoringModel> initial, Func<ScoringModel, ScoringModel>? prepare = null,
        bool allowBelowBaseline = false)
    {
        ArgumentNullException.ThrowIfNull(initial);
        _prepare = prepare ?? (m => m);
        _allowBelowBaseline = allowBelowBaseline;
        ModelsDirectory = modelsDirectory;
        FeatureDimension = featureDimension;
        foreach (var (name, model) in initial) { Use(name, model); }
    }

    /// <summary>Directory of selectable checkpoints.</summary>
    public string ModelsDirectory { get; }

    /// <summary>Feature values per clip on the live path.</summary>
    public int FeatureDimension { get; }

    /// <summary>The models in use by target: hand this to the live scorer.</summary>
    public IReadOnlyDictionary<ScoreTarget, ScoringModel> InUse => _inUse;

    /// <summary>What is in use, for the REST API.</summary>
    public IReadOnlyList<ModelInUse> Current()
    {
        lock (_gate)
        {
            return [.. _inUse.OrderBy(kv => kv.Key).Select(kv => new ModelInUse(kv.Key.ToString(), _names[kv.Key], kv.Value.Card.ModelId,
                kv.Value.Version, kv.Value.Mode.ToString(), kv.Value.Scorer.FeatureDim, kv.Value.Card.Validation?.Spearman))];
        }
    }

    /// <summary>Checkpoint names in <see cref="ModelsDirectory"/> that could be selected.</summary>
    public IReadOnlyList<string> Available() => Directory.Exists(ModelsDirectory)
        ? [.. Directory.EnumerateFiles(ModelsDirectory, "*.safetensors").Select(f => Path.GetFileNameWithoutExtension(f)).Order(StringComparer.Ordinal)]
        : [];

    /// <summary>The checkpoints in <see cref="ModelsDirectory"/> that lose to the baselines their cards record, by name,
    /// with the reason (read from each <c>NAME.card.json</c>; one without a card file, or whose card does not parse, is
    /// left out: selecting it still reads the embedded card and gives the error).</summary>
    public IReadOnlyDictionary<string, string> NotFitForAir()
    {
        var unfit = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in Available())
        {
            var cardPath = Scoring.Checkpoints.CheckpointStore.CardPath(Path.Combine(ModelsDirectory, name + ".safetensors"));
            if (!File.Exists(cardPath)) { continue; }
            try
            {
                if (Scoring.Checkpoints.ModelCard.Parse(File.ReadAllText(cardPath), cardPath).LosesToBaselines() is { } loss) { unfit[name] = loss; }
            }
            catch (DataFormatException)
            {
                // Not listed: the switch itself reports what is wrong with it.
            }
        }
        return unfit;
    }

    /// <summary>Switches the target of checkpoint <paramref name="name"/> to it, from the next performance on.</summary>
    /// <exception cref="ArgumentException">Unknown name, a model that reads other features than the live path gives, or
    /// one that loses to the baselines on its card (unless the registry allows it).</exception>
    public ModelInUse Select(string name)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Contains('/', StringComparison.Ordinal) || name.Contains('\\', StringComparison.Ordinal) || name.Contains("..", StringComparison.Ordinal))
        {
            throw new ArgumentException("The model name must be a checkpoint name from GET /api/models (no path).");
        }
        var path = Path.Combine(ModelsDirectory, name + ".safetensors");
        if (!File.Exists(path)) { throw new ArgumentException($"No checkpoint '{name}' in {ModelsDirectory}: choose one of {string.Join(", ", Available())}."); }
        var loaded = ScoringModel.Load(path);
        if (!_allowBelowBaseline && loaded.Card.LosesToBaselines() is { } loss)
        {
            throw new ArgumentException($"Model '{name}' is not fit for air: {loss}. This server was started without --allow-below-baseline.");
        }
        var model = _prepare(loaded);
        Use(name, model);
        return Current().First(m => m.Name == name);
    }

    private void Use(string name, ScoringModel model)
    {
        if (model.Scorer.FeatureDim != FeatureDimension)
        {
            throw new ArgumentException($"Model '{name}' reads {model.Scorer.FeatureDim} values per clip; the live features have {FeatureDimension}.");
        }
        lock (_gate)
        {
            _inUse[model.Card.Target] = model;
            _names[model.Card.Target] = name;
        }
    }
}

/// <summary>A model in use.</summary>
/// <param name="Target">TES or PCS.</param>
/// <param name="Name">Checkpoint name.</param>
/// <param name="ModelId">Id from its card.</param>
/// <param name="Version">Checkpoint hash.</param>
/// <param name="Mode">Exact or Streaming.</param>
/// <param name="FeatureDimension">Values per clip it reads.</param>
/// <param name="ValidationSpearman">Its validation Spearman from the card, when recorded.</param>
public sealed record ModelInUse(string Target, string Name, string ModelId, string Version, string Mode, int FeatureDimension, double? ValidationSpearman);
