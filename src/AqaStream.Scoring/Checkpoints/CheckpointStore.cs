using AqaStream.Scoring.Data;
using AqaStream.Scoring.Model;

namespace AqaStream.Scoring.Checkpoints;

/// <summary>A loaded model and its card.</summary>
public sealed record LoadedModel(WeightScoreDecoder Model, ModelCard Card);

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

    /// <summary>Writes the checkpoint and its card.</summary>
    public static void Save(string path, WeightScoreDecoder model, ModelCard card)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(card);
        var json = card.ToJson();
        SafeTensors.Write(path, model.Parameters.All.Select(p => new NamedTensor(p.Key, p.Value.Data, p.Value.Shape)),
            new Dictionary<string, string> { [CardMetadataKey] = json, ["format"] = "pt" });
        File.WriteAllText(CardPath(path), json + "\n");
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
        var model = new WeightScoreDecoder(card.Architecture);
        Assign(model, file, path);
        return new LoadedModel(model, card);
    }

    /// <summary>Copies tensors into the model, checking that names and shapes match its architecture exactly.</summary>
    public static void Assign(WeightScoreDecoder model, SafeTensorsFile file, string source)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(file);
        var expected = model.Parameters.All;
        var missing = expected.Where(p => !file.Tensors.ContainsKey(p.Key)).Select(p => p.Key).ToList();
        if (missing.Count > 0)
        {
            throw new DataFormatException($"{source}: checkpoint lacks {missing.Count} tensor(s) the architecture needs, e.g. '{missing[0]}'.");
        }
        var unexpected = file.Tensors.Keys.Where(k => !model.Parameters.Contains(k)).ToList();
        if (unexpected.Count > 0)
        {
            throw new DataFormatException($"{source}: checkpoint has tensor(s) the architecture does not, e.g. '{unexpected[0]}'.");
        }
        foreach (var (name, param) in expected)
        {
            var t = file.Tensors[name];
            if (!t.Shape.AsSpan().SequenceEqual(param.Shape))
            {
                throw new DataFormatException($"{source}: tensor '{name}' has shape [{string.Join(", ", t.Shape)}], the architecture needs [{string.Join(", ", param.Shape)}].");
            }
            t.Data.CopyTo(param.Data, 0);
        }
        model.Parameters.MarkChanged();
    }
}
