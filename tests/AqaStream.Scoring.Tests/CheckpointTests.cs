using System.Text;
using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Model;
using AqaStream.Scoring.Torch;
using Xunit;

namespace AqaStream.Scoring.Tests;

[Collection(LibtorchCollection.Name)]
public class CheckpointTests
{
    internal static readonly DecoderOptions Small = new()
    {
        FeatureDim = 12, ModelDim = 8, Layers = 2, Heads = 2, HeadHidden1 = 6, HeadHidden2 = 4, MaxQueries = 16,
        Dropout = 0.1f, AttentionDropout = 0.1f, QueryInitStd = 1f,
    };

    private static TorchClipScorer Decoder(DecoderOptions options, int seed = 0) => new(new TorchWeightScoreDecoder(options, seed: seed));

    [Fact]
    public void SaveLoad_RoundTrip_SameWeightsCardAndScores()
    {
        using var dir = new TempDirectory();
        using var model = Decoder(Small, seed: 5);
        var card = new ModelCard { ModelId = "t", Architecture = Small, Target = ScoreTarget.PCS, ScoreScale = 43f, Seed = 5 };
        var path = dir.File("m.safetensors");
        CheckpointStore.Save(path, model, card);
        var loaded = CheckpointStore.Load(path);
        Assert.Equal(Small, loaded.Card.Architecture);
        Assert.Equal(ScoreTarget.PCS, loaded.Card.Target);
        Assert.Equal(43f, loaded.Card.ScoreScale);   // the decoder's outputs are model units: the card keeps its scale
        using var back = Assert.IsType<TorchClipScorer>(loaded.Scorer);
        Assert.Equal(model.Model.Parameters.Select(p => p.Name), back.Model.Parameters.Select(p => p.Name));
        foreach (var ((name, a), (_, b)) in model.Model.Parameters.Zip(back.Model.Parameters))
        {
            Assert.True(a.detach().data<float>().ToArray().SequenceEqual(b.detach().data<float>().ToArray()), name);
        }
        Assert.True(File.Exists(CheckpointStore.CardPath(path)));
        Assert.Contains("\"target\": \"PCS\"", File.ReadAllText(CheckpointStore.CardPath(path)), StringComparison.Ordinal);

        var sample = new PerformanceSample("x", Enumerable.Range(0, 5 * 12).Select(i => MathF.Sin(i)).ToArray(), 5, 12, null);
        Assert.Equal(model.Score([sample], 43f)[0].Score, PerformanceScorer.Score(loaded, [sample])[0].Score);
    }

    [Fact]
    public void Load_TensorsNotTheCardsArchitecture_NamesTensorAndShapes()
    {
        using var dir = new TempDirectory();
        var path = dir.File("m.safetensors");
        using (var model = Decoder(Small)) { CheckpointStore.Save(path, model, new ModelCard { Architecture = Small }); }
        // The card beside the file is only read when the file has none: write the file again without metadata.
        var tensors = SafeTensors.Read(path).Tensors.Values.ToList();
        void WithCard(DecoderOptions architecture, IEnumerable<NamedTensor> values) =>
            SafeTensors.Write(path, values, new Dictionary<string, string> { [CheckpointStore.CardMetadataKey] = new ModelCard { Architecture = architecture }.ToJson() });

        WithCard(Small with { HeadHidden1 = 7 }, tensors);
        var e = Assert.Throws<DataFormatException>(() => CheckpointStore.Load(path));
        Assert.Contains("tensor 'head.layer1_mean.weight' has shape [6, 8], the architecture needs [7, 8]", e.Message, StringComparison.Ordinal);
        Assert.StartsWith(path + ": ", e.Message, StringComparison.Ordinal);

        WithCard(Small with { Layers = 3 }, tensors);
        Assert.Contains("lacks", Assert.Throws<DataFormatException>(() => CheckpointStore.Load(path)).Message, StringComparison.Ordinal);

        WithCard(Small, [.. tensors, new NamedTensor("extra.weight", [1f], [1])]);
        Assert.Contains("'extra.weight'", Assert.Throws<DataFormatException>(() => CheckpointStore.Load(path)).Message, StringComparison.Ordinal);

        var poisoned = tensors.Select(t => t.Name == "query_embed.weight" ? t with { Data = [float.NaN, .. t.Data[1..]] } : t).ToList();
        WithCard(Small, poisoned);
        Assert.Contains("tensor 'query_embed.weight' holds a non-finite value", Assert.Throws<DataFormatException>(() => CheckpointStore.Load(path)).Message, StringComparison.Ordinal);

        WithCard(Small with { Heads = 3 }, tensors);   // the card itself is refused: 8 does not divide into 3 heads
        Assert.Contains("does not divide into 3 heads", Assert.Throws<DataFormatException>(() => CheckpointStore.Load(path)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_CorruptFiles_OneLineErrorsNamingFile()
    {
        using var dir = new TempDirectory();
        var path = dir.File("m.safetensors");
        using (var model = Decoder(Small)) { CheckpointStore.Save(path, model, new ModelCard { Architecture = Small }); }
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
