using System.Text;
using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Model;
using Xunit;

namespace AqaStream.Scoring.Tests;

public class CheckpointTests
{
    internal static readonly DecoderOptions Small = new()
    {
        FeatureDim = 12, ModelDim = 8, Layers = 2, Heads = 2, HeadHidden1 = 6, HeadHidden2 = 4, MaxQueries = 16,
        Dropout = 0.1f, AttentionDropout = 0.1f, QueryInitStd = 1f,
    };

    [Fact]
    public void SaveLoad_RoundTrip_SameWeightsCardAndScores()
    {
        using var dir = new TempDirectory();
        var model = new WeightScoreDecoder(Small, seed: 5);
        var card = new ModelCard { ModelId = "t", Architecture = Small, Target = ScoreTarget.PCS, ScoreScale = 43f, Seed = 5 };
        var path = dir.File("m.safetensors");
        CheckpointStore.Save(path, model, card);
        var loaded = CheckpointStore.Load(path);
        Assert.Equal(Small, loaded.Card.Architecture);
        Assert.Equal(ScoreTarget.PCS, loaded.Card.Target);
        foreach (var (name, p) in model.Parameters.All) { Assert.Equal(p.Data, loaded.Model.Parameters[name].Data); }
        Assert.True(File.Exists(CheckpointStore.CardPath(path)));
        Assert.Contains("\"target\": \"PCS\"", File.ReadAllText(CheckpointStore.CardPath(path)), StringComparison.Ordinal);

        var sample = new PerformanceSample("x", Enumerable.Range(0, 5 * 12).Select(i => MathF.Sin(i)).ToArray(), 5, 12, null);
        var a = new PerformanceScorer(model, 43f).Score([sample])[0];
        var b = new PerformanceScorer(loaded).Score([sample])[0];
        Assert.Equal(a.Score, b.Score);
    }

    [Fact]
    public void Load_ShapeMismatch_NamesTensorAndShapes()
    {
        using var dir = new TempDirectory();
        var path = dir.File("m.safetensors");
        CheckpointStore.Save(path, new WeightScoreDecoder(Small), new ModelCard { Architecture = Small });
        var other = Small with { HeadHidden1 = 7 };
        File.WriteAllText(CheckpointStore.CardPath(path), new ModelCard { Architecture = other }.ToJson());
        var file = SafeTensors.Read(path);
        var e = Assert.Throws<DataFormatException>(() => CheckpointStore.Assign(new WeightScoreDecoder(other), file, path));
        Assert.Contains("tensor 'head.layer1_mean.weight' has shape [6, 8], the architecture needs [7, 8]", e.Message, StringComparison.Ordinal);

        var missing = Assert.Throws<DataFormatException>(() => CheckpointStore.Assign(new WeightScoreDecoder(Small with { Layers = 3 }), file, path));
        Assert.Contains("lacks", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_CorruptFiles_OneLineErrorsNamingFile()
    {
        using var dir = new TempDirectory();
        var path = dir.File("m.safetensors");
        CheckpointStore.Save(path, new WeightScoreDecoder(Small), new ModelCard { Architecture = Small });
        var bytes = File.ReadAllBytes(path);

        File.WriteAllBytes(path, bytes[..(bytes.Length - 10)]);
        Assert.Contains("truncated", Assert.Throws<DataFormatException>(() => CheckpointStore.Load(path)).Message, StringComparison.Ordinal);

        File.WriteAllBytes(path, Encoding.ASCII.GetBytes("\x05\0\0\0\0\0\0\0{oops"));
        var e = Assert.Throws<DataFormatException>(() => CheckpointStore.Load(path));
        Assert.StartsWith(path + ": ", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);

        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.Contains("not a safetensors file", Assert.Throws<DataFormatException>(() => CheckpointStore.Load(path)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SafeTensors_HeaderIsAlignedJson_WithMetadata()
    {
        using var dir = new TempDirectory();
        var path = dir.File("t.safetensors");
        SafeTensors.Write(path, [new NamedTensor("a", [1f, 2f, 3f], [3]), new NamedTensor("b.c", [4f], [1, 1])], new Dictionary<string, string> { ["k"] = "v" });
        var bytes = File.ReadAllBytes(path);
        var n = BitConverter.ToUInt64(bytes, 0);
        Assert.Equal(0UL, n % 8);
        Assert.Equal(8 + (long)n + 16, bytes.Length);
        var read = SafeTensors.Read(path);
        Assert.Equal(new[] { 1f, 2f, 3f }, read.Tensors["a"].Data);
        Assert.Equal(new[] { 1, 1 }, read.Tensors["b.c"].Shape);
        Assert.Equal("v", read.Metadata["k"]);
    }
}
