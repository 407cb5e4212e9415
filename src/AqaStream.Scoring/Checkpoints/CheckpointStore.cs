using AqaStream.Scoring.Data;
using AqaStream.Scoring.Model;

namespace AqaStream.Scoring.Checkpoints;

/// <summary>A loaded model (any method) and its card.</summary>
public sealed record LoadedModel(IClipScorer Scorer, ModelCard Card);

/// <summary>
/// Saves and loads checkpoints: <c>X.safetensors</c> (weights named as the PyTorch state_dict, the card in
/// <c>__metadata__["model_card"]</c>) and <c>X.card.json</c> beside it for people and tools.
/// </summary>
public static class CheckpointStore
{
    /// <summary>The metadata key holding the card's JSON.</summary>
    public const string CardMetadataKey = "model_card";

    /// <summary>The card file path for a checkpoint path.</summary>
    public static string CardPath(string checkpointPath) => Path.ChangeExtension(checkpointPath, null) + ".card.json";

    /// <summary>Writes a model of any method and its card (the card's format names the method). An
    /// <see cref="EnsembleScorer"/> is written with every member's tensors under <c>members.{i}.</c>; its card's
    /// <see cref="ModelCard.Ensemble"/> is filled from the members (their cards derived from <paramref name="card"/>).</summary>
    public static void Save(string path, IClipScorer scorer, ModelCard card)
    {
        var (tensors, saved) = Serialize(scorer, card);
        var json = saved.ToJson();
        SafeTensors.Write(path, tensors, new Dictionary<string, string> { [CardMetadataKey] = json, ["format"] = "pt" });
        File.WriteAllText(CardPath(path), json + "\n");
    }

    /// <summary>Rewrites a checkpoint's card (in its metadata and beside it), the tensors unchanged. The new card must
    /// keep the format: it describes the same tensors.</summary>
    public static void ReplaceCard(string path, ModelCard card)
    {
        ArgumentNullException.ThrowIfNull(card);
        var file = SafeTensors.Read(path);
        if (file.Metadata.TryGetValue(CardMetadataKey, out var embedded) && ModelCard.Parse(embedded, path).Format is var format && format != card.Format)
        {
            throw new ArgumentException($"{path}: a '{card.Format}' card cannot replace the file's '{format}' card.");
        }
        var json = card.ToJson();
        var metadata = file.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        metadata[CardMetadataKey] = json;
        var temporary = path + ".tmp";
        SafeTensors.Write(temporary, file.Tensors.Values, metadata);
        File.Move(temporary, path, overwrite: true);
        File.WriteAllText(CardPath(path), json + "\n");
    }

    /// <summary>A model's tensors and its card as saved (format, scale and, for an ensemble, the members' cards set).</summary>
    public static (IReadOnlyList<NamedTensor> Tensors, ModelCard Card) Serialize(IClipScorer scorer, ModelCard card)
    {
        ArgumentNullException.ThrowIfNull(scorer);
        ArgumentNullException.ThrowIfNull(card);
        switch (scorer)
        {
            case MeanPooledRidge ridge:
                return ([new NamedTensor(MeanPooledRidge.CoefficientsTensor, ridge.Coefficients.ToArray(), [ridge.FeatureDim]),
                         new NamedTensor(MeanPooledRidge.OffsetsTensor, [ridge.Intercept, ridge.LengthCoefficient], [2]),
                         .. MotionTensor(ridge.MotionCoefficients), .. SquashTensors(ridge.Squash)],
                    card with { Format = ModelCard.RidgeFormat, ScoreScale = 1f, Ensemble = null, SequenceMethod = null });
            case PositionalRidge positional:
                return ([new NamedTensor(MeanPooledRidge.CoefficientsTensor, positional.Coefficients.ToArray(), [positional.Knots, positional.FeatureDim]),
                         new NamedTensor(MeanPooledRidge.OffsetsTensor, [positional.Intercept], [1]),
                         .. MotionTensor(positional.MotionCoefficients), .. SquashTensors(positional.Squash), .. DeductionTensors(positional.Deductions)],
                    card with { Format = ModelCard.PositionalRidgeFormat, ScoreScale = 1f, Ensemble = null, SequenceMethod = null });
            case EnsembleScorer ensemble:
                {
                    var tensors = new List<NamedTensor>();
                    var members = new List<EnsembleMember>();
                    for (var i = 0; i < ensemble.Members.Count; i++)
                    {
                        var memberCard = new ModelCard
                        {
                            ModelId = FormattableString.Invariant($"{card.ModelId}.members.{i}"), Target = card.Target, Seed = card.Seed, Created = card.Created,
                            Architecture = new Model.DecoderOptions { FeatureDim = ensemble.FeatureDim, MaxQueries = ensemble.Members[i].MaxClips },
                        };
                        var (t, c) = Serialize(ensemble.Members[i], memberCard);
                        if (c.Format == ModelCard.EnsembleFormat) { throw new ArgumentException("An ensemble member cannot be an ensemble: list its members instead."); }
                        if (ensemble.Members[i] is ISavedModel { KeepsScoreScale: true }) { throw new ArgumentException($"{ensemble.Members[i].Method} scores in model units and cannot be an ensemble member."); }
                        tensors.AddRange(t.Select(x => x with { Name = FormattableString.Invariant($"members.{i}.{x.Name}") }));
                        members.Add(new EnsembleMember(ensemble.Weights[i], c));
                    }
                    return (tensors, card with
                    {
                        Format = ModelCard.EnsembleFormat, ScoreScale = 1f, SequenceMethod = null, Ensemble = new EnsembleSpec(ensemble.Method, members),
                        Architecture = card.Architecture with { FeatureDim = ensemble.FeatureDim, MaxQueries = ensemble.MaxClips },
                    });
                }
            case ISavedModel saved:
                return (saved.Tensors(), saved.Describe(card) with { Format = saved.Format, ScoreScale = saved.KeepsScoreScale ? card.ScoreScale : 1f, Ensemble = null });
            default:
                throw new ArgumentException($"No checkpoint format for method '{scorer.Method}'.");
        }
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Func<SafeTensorsFile, ModelCard, string, IClipScorer>> s_loaders = new(StringComparer.Ordinal);

    /// <summary>Registers how checkpoints of <paramref name="format"/> load (the libtorch methods register theirs; the
    /// loader gets the file, its card and the path for messages, and throws <see cref="DataFormatException"/>).</summary>
    public static void RegisterFormat(string format, Func<SafeTensorsFile, ModelCard, string, IClipScorer> load)
    {
        ArgumentException.ThrowIfNullOrEmpty(format);
        ArgumentNullException.ThrowIfNull(load);
        s_loaders[format] = load;
    }

    /// <summary>Loads a checkpoint; the card comes from its metadata, else from the card file beside it.</summary>
    public static LoadedModel Load(string path)
    {
        if (!File.Exists(path)) { throw new DataFormatException($"{path}: checkpoint not found."); }
        var file = SafeTensors.Read(path);
        ModelCard card;
        if (file.Metadata.TryGetValue(CardMetadataKey, out var embedded))
        {
            card = ModelCard.Parse(embedded, path);
        }
        else if (File.Exists(CardPath(path)))
        {
            card = ModelCard.Parse(File.ReadAllText(CardPath(path)), CardPath(path));
        }
        else
        {
            throw new DataFormatException($"{path}: no model card (neither in the file's metadata nor at {CardPath(path)}).");
        }
        return new LoadedModel(LoadScorer(file, card, path), card);
    }

    private static IClipScorer LoadScorer(SafeTensorsFile file, ModelCard card, string path)
    {
        if (card.Format == ModelCard.RidgeFormat) { return LoadRidge(file, card, path); }
        if (card.Format == ModelCard.PositionalRidgeFormat) { return LoadPositionalRidge(file, card, path); }
        if (card.Format == ModelCard.EnsembleFormat) { return LoadEnsemble(file, card, path); }
        if (!s_loaders.TryGetValue(card.Format, out var load))
        {
            throw new DataFormatException($"{path}: a '{card.Format}' ({card.Method}) checkpoint needs the libtorch engine, which this program has not registered.");
        }
        return load(file, card, path);
    }

    /// <summary>An ensemble: every member loads from its own tensors (<c>members.{i}.</c>) and card; a tensor that belongs
    /// to no member is an error, as in every other format.</summary>
    private static EnsembleScorer LoadEnsemble(SafeTensorsFile file, ModelCard card, string path)
    {
        var spec = card.Ensemble!;
        var members = new List<IClipScorer>();
        try
        {
            for (var i = 0; i < spec.Members.Count; i++)
            {
                var prefix = FormattableString.Invariant($"members.{i}.");
                var own = file.Tensors.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value with { Name = kv.Key[prefix.Length..] });
                members.Add(LoadScorer(new SafeTensorsFile(own, file.Metadata), spec.Members[i].Card, FormattableString.Invariant($"{path} (member {i}, {spec.Members[i].Card.Method})")));
            }
            var stray = file.Tensors.Keys.FirstOrDefault(k => !System.Text.RegularExpressions.Regex.IsMatch(k, @"^members\.\d+\.") || int.Parse(k.Split('.')[1], System.Globalization.CultureInfo.InvariantCulture) >= spec.Members.Count);
            if (stray is not null) { throw new DataFormatException($"{path}: tensor '{stray}' belongs to none of the ensemble's {spec.Members.Count} members."); }
            if (members.Any(m => m.FeatureDim != card.Architecture.FeatureDim))
            {
                throw new DataFormatException($"{path}: a member reads {members.First(m => m.FeatureDim != card.Architecture.FeatureDim).FeatureDim} features; the card says {card.Architecture.FeatureDim}.");
            }
            return new EnsembleScorer(members, [.. spec.Members.Select(m => m.Weight)], spec.Method);
        }
        catch
        {
            foreach (var m in members) { (m as IDisposable)?.Dispose(); }
            throw;
        }
    }

    /// <summary>
    /// Checks that a checkpoint holds exactly the tensors an architecture needs: every name of <paramref name="expected"/>
    /// with its shape, no other, and only finite values. Anything else is a one-line <see cref="DataFormatException"/>
    /// naming <paramref name="source"/> and the tensor; <paramref name="architecture"/> names the architecture in it
    /// ("the architecture", "the gdlt architecture").
    /// </summary>
    public static void CheckTensors(IReadOnlyList<(string Name, long[] Shape)> expected, IReadOnlyDictionary<string, NamedTensor> tensors, string source, string architecture)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(tensors);
        var missing = expected.Where(p => !tensors.ContainsKey(p.Name)).Select(p => p.Name).ToList();
        if (missing.Count > 0)
        {
            throw new DataFormatException($"{source}: checkpoint lacks {missing.Count} tensor(s) {architecture} needs, e.g. '{missing[0]}'.");
        }
        var names = expected.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        var unexpected = tensors.Keys.Where(k => !names.Contains(k)).ToList();
        if (unexpected.Count > 0)
        {
            throw new DataFormatException($"{source}: checkpoint has tensor(s) {architecture} does not, e.g. '{unexpected[0]}'.");
        }
        foreach (var (name, shape) in expected)
        {
            var t = tensors[name];
            if (!t.Shape.Select(x => (long)x).SequenceEqual(shape))
            {
                throw new DataFormatException($"{source}: tensor '{name}' has shape [{string.Join(", ", t.Shape)}], {architecture} needs [{string.Join(", ", shape)}].");
            }
            if (!t.Data.All(float.IsFinite)) { throw new DataFormatException($"{source}: tensor '{name}' holds a non-finite value."); }
        }
    }

    // The ridges' motion coefficients, saved only when the model has the motion term.
    private static NamedTensor[] MotionTensor(ReadOnlySpan<float> motion) => motion.IsEmpty ? [] : [new NamedTensor(MeanPooledRidge.MotionTensor, motion.ToArray(), [motion.Length])];

    // The squash's two tensors, saved only when the model squashes.
    private static NamedTensor[] SquashTensors(ClipSquash? squash) => squash is null ? []
        : [new NamedTensor(MeanPooledRidge.SquashCenterTensor, squash.Center.ToArray(), [squash.FeatureDim]), new NamedTensor(MeanPooledRidge.SquashSpreadTensor, squash.Spread.ToArray(), [squash.FeatureDim])];

    // The deduction term's two tensors, saved only when the model has one: the detector's weights, then its bias and points.
    private static NamedTensor[] DeductionTensors(ClipDeductions? deductions) => deductions is null ? []
        : [new NamedTensor(PositionalRidge.DeductionWeightsTensor, deductions.Weights.ToArray(), [deductions.FeatureDim]),
           new NamedTensor(PositionalRidge.DeductionOffsetsTensor, [deductions.Bias, deductions.Points], [2])];

    // The optional tensors of a ridge checkpoint beside its two: the motion coefficients and the squash (both of its
    // tensors or neither), each [featureDim], and for ridge-pos the deduction term (both of its tensors or neither);
    // anything else is refused, naming what a ridge holds.
    private static (float[]? Motion, ClipSquash? Squash, ClipDeductions? Deductions) LoadRidgeOptions(SafeTensorsFile file, ModelCard card, string source, string method)
    {
        var positional = method == PositionalRidge.MethodName;
        string[] optional = [MeanPooledRidge.MotionTensor, MeanPooledRidge.SquashCenterTensor, MeanPooledRidge.SquashSpreadTensor,
            .. positional ? new[] { PositionalRidge.DeductionWeightsTensor, PositionalRidge.DeductionOffsetsTensor } : []];
        var unknown = file.Tensors.Keys.Where(k => k != MeanPooledRidge.CoefficientsTensor && k != MeanPooledRidge.OffsetsTensor && !optional.Contains(k)).Order(StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
        {
            throw new DataFormatException($"{source}: a {method} checkpoint holds '{MeanPooledRidge.CoefficientsTensor}', '{MeanPooledRidge.OffsetsTensor}' and optionally "
                + $"{string.Join(", ", optional.Select(o => $"'{o}'"))}; this one also has {string.Join(", ", unknown)}.");
        }
        float[]? Vector(string name)
        {
            if (!file.Tensors.TryGetValue(name, out var t)) { return null; }
            if (t.Shape is not [var width] || width != card.Architecture.FeatureDim)
            {
                throw new DataFormatException($"{source}: tensor '{name}' has shape [{string.Join(", ", t.Shape)}]; it needs [{card.Architecture.FeatureDim}] (card featureDim).");
            }
            return t.Data;
        }
        var (center, spread) = (Vector(MeanPooledRidge.SquashCenterTensor), Vector(MeanPooledRidge.SquashSpreadTensor));
        if ((center is null) != (spread is null))
        {
            throw new DataFormatException($"{source}: a squash needs both '{MeanPooledRidge.SquashCenterTensor}' and '{MeanPooledRidge.SquashSpreadTensor}'; this checkpoint has one.");
        }
        var detector = Vector(PositionalRidge.DeductionWeightsTensor);
        var hasOffsets = file.Tensors.TryGetValue(PositionalRidge.DeductionOffsetsTensor, out var offsets);
        if ((detector is null) != !hasOffsets)
        {
            throw new DataFormatException($"{source}: a deduction term needs both '{PositionalRidge.DeductionWeightsTensor}' and '{PositionalRidge.DeductionOffsetsTensor}'; this checkpoint has one.");
        }
        if (hasOffsets && offsets!.Shape is not [2])
        {
            throw new DataFormatException($"{source}: tensor '{PositionalRidge.DeductionOffsetsTensor}' has shape [{string.Join(", ", offsets.Shape)}]; it needs [2] (bias, points per deduction).");
        }
        try
        {
            return (Vector(MeanPooledRidge.MotionTensor), center is null ? null : new ClipSquash(center, spread!),
                detector is null ? null : new ClipDeductions(detector, offsets!.Data[0], offsets.Data[1]));
        }
        catch (ArgumentException e)
        {
            throw new DataFormatException($"{source}: {e.Message}", e);
        }
    }

    private static MeanPooledRidge LoadRidge(SafeTensorsFile file, ModelCard card, string source)
    {
        if (!file.Tensors.TryGetValue(MeanPooledRidge.CoefficientsTensor, out var coefficients) || !file.Tensors.TryGetValue(MeanPooledRidge.OffsetsTensor, out var offsets))
        {
            throw new DataFormatException($"{source}: a {MeanPooledRidge.MethodName} checkpoint needs tensors '{MeanPooledRidge.CoefficientsTensor}' and '{MeanPooledRidge.OffsetsTensor}'.");
        }
        var (motion, squash, _) = LoadRidgeOptions(file, card, source, MeanPooledRidge.MethodName);
        if (coefficients.Shape.Length != 1 || coefficients.Shape[0] != card.Architecture.FeatureDim || offsets.Shape is not [2])
        {
            throw new DataFormatException($"{source}: tensor shapes [{string.Join(", ", coefficients.Shape)}] and [{string.Join(", ", offsets.Shape)}] do not match "
                + $"[{card.Architecture.FeatureDim}] and [2] (card featureDim {card.Architecture.FeatureDim}).");
        }
        try
        {
            return new MeanPooledRidge(coefficients.Data, offsets.Data[0], offsets.Data[1], card.Architecture.MaxQueries, motion, squash);
        }
        catch (ArgumentException e)
        {
            throw new DataFormatException($"{source}: {e.Message}", e);
        }
    }

    private static PositionalRidge LoadPositionalRidge(SafeTensorsFile file, ModelCard card, string source)
    {
        if (!file.Tensors.TryGetValue(MeanPooledRidge.CoefficientsTensor, out var coefficients) || !file.Tensors.TryGetValue(MeanPooledRidge.OffsetsTensor, out var offsets))
        {
            throw new DataFormatException($"{source}: a {PositionalRidge.MethodName} checkpoint holds the tensors '{MeanPooledRidge.CoefficientsTensor}' and '{MeanPooledRidge.OffsetsTensor}'.");
        }
        var (motion, squash, deductions) = LoadRidgeOptions(file, card, source, PositionalRidge.MethodName);
        if (coefficients.Shape.Length != 2 || coefficients.Shape[0] < 2 || coefficients.Shape[1] != card.Architecture.FeatureDim || offsets.Shape is not [1])
        {
            throw new DataFormatException($"{source}: tensor shapes [{string.Join(", ", coefficients.Shape)}] and [{string.Join(", ", offsets.Shape)}] do not match "
                + $"[knots ≥ 2, {card.Architecture.FeatureDim}] and [1] (card featureDim {card.Architecture.FeatureDim}).");
        }
        try
        {
            return new PositionalRidge(coefficients.Data, coefficients.Shape[0], offsets.Data[0], card.Architecture.MaxQueries, motion, squash, deductions);
        }
        catch (ArgumentException e)
        {
            throw new DataFormatException($"{source}: {e.Message}", e);
        }
    }
}

/// <summary>A model that saves itself as named tensors under its own card format (the libtorch methods).</summary>
public interface ISavedModel
{
    /// <summary>The card format it loads back with (<see cref="CheckpointStore.RegisterFormat"/>).</summary>
    string Format { get; }

    /// <summary>Its state_dict as named tensors.</summary>
    IReadOnlyList<NamedTensor> Tensors();

    /// <summary>Whether its outputs are in model units that the card's score scale turns into points (the decoder);
    /// otherwise they are points already and the saved card's scale is 1.</summary>
    bool KeepsScoreScale => false;

    /// <summary>The card it saves with, from the caller's (its own architecture filled in; used for ensemble members,
    /// whose cards the caller does not write).</summary>
    ModelCard Describe(ModelCard card) => card;
}
