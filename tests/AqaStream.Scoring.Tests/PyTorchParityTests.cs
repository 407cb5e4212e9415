using System.Text.Json;
using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Model;
using AqaStream.Scoring.Torch;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace AqaStream.Scoring.Tests;

/// <summary>
/// The same weights in PyTorch (tools/reference, Debian's python3-torch) and in C#: outputs, attention maps,
/// attention loss and every parameter gradient agree to 1e-4 relative: per tensor, max |ours − torch| ≤ 1e-4 · max |torch|
/// + 1e-6. The absolute 1e-6 floor covers tensors whose true value is 0 (the weight MLP's last bias: softmax ignores a
/// shift, so both sides hold float32 noise of ~1e-8) and the attention loss, a small KL that PyTorch sums in float32.
/// PyTorch builds and exports the model, so loading a PyTorch-exported checkpoint is exercised too.
/// Runs python3 as a child process: left out of <c>./test.sh --fast</c>, always run by the full suite.
/// </summary>
[Trait("Category", "Process")]
[Collection(LibtorchCollection.Name)]
public class PyTorchParityTests(ITestOutputHelper output)
{
    private const double RelativeTolerance = 1e-4;
    private const double AbsoluteFloor = 1e-6;

    public static TheoryData<string> Variants => ["bidirectional", "causal", "projected", "reference-unmasked", "local-cross"];

    private static DecoderOptions OptionsFor(string variant)
    {
        var o = new DecoderOptions
        {
            FeatureDim = 24, ModelDim = 24, Layers = 2, Heads = 4, HeadHidden1 = 12, HeadHidden2 = 8, MaxQueries = 11,
            QueryInitStd = 2f, Dropout = 0f, AttentionDropout = 0f,
        };
        return variant switch
        {
            "causal" => o with { Causal = true },
            "projected" => o with { FeatureDim = 20, ModelDim = 16, FeedForwardDim = 20, Causal = true },
            "reference-unmasked" => o with { MaskPadding = false },
            "local-cross" => o with { FeatureDim = 20, ModelDim = 16, LocalCross = true },
            _ => o,
        };
    }

    /// <summary>The TorchSharp engine (libtorch 2.10) against PyTorch 1.13: same checkpoint, same batch, same loss.</summary>
    [Theory]
    [MemberData(nameof(Variants))]
    public void TorchSharpDecoder_SameWeightsAsPyTorch_SameOutputsLossAndGradients(string variant)
    {
        using var dir = new TempDirectory();
        var options = OptionsFor(variant);
        RunReference(options, dir.Path, seed: 5);
        var expected = SafeTensors.Read(dir.File("expected.safetensors")).Tensors;
        var feats = expected["features"];
        var (b, t) = (feats.Shape[0], feats.Shape[1]);
        var lengths = expected["lengths"].Data.Select(v => (long)v).ToArray();
        var first = expected["first"].Data.Select(v => (long)v).ToArray();

        using var scope = torch.NewDisposeScope();
        var loaded = CheckpointStore.Load(dir.File("model.safetensors"));
        Assert.Equal(options, loaded.Card.Architecture);
        using var model = Assert.IsType<TorchClipScorer>(loaded.Scorer).Model;
        var x = torch.tensor(feats.Data, [b, t, options.FeatureDim]);
        var result = model.Forward(x, lengths, first, training: true, withAttentionLoss: true, withMaps: true);
        var target = torch.tensor(expected["target"].Data, [b]);
        var loss = torch.nn.functional.mse_loss(result.Score, target) + result.AttentionLoss!;
        loss.backward();

        static float[] Values(torch.Tensor v) => v.detach().contiguous().data<float>().ToArray();
        Compare("score", Values(result.Score), expected["score"].Data);
        Compare("weights", Values(result.Weights), expected["weights"].Data);
        Compare("clip_scores", Values(result.ClipScores), expected["clip_scores"].Data);
        Compare("attention_loss", Values(result.AttentionLoss!), expected["attention_loss"].Data);
        Compare("loss", Values(loss), expected["loss"].Data);
        for (var l = 0; l < options.Layers; l++)
        {
            Compare($"self_map.{l}", Values(result.SelfAttention[l]), expected[$"self_map.{l}"].Data);
            Compare($"cross_map.{l}", Values(result.CrossAttention[l]), expected[$"cross_map.{l}"].Data);
        }
        foreach (var (name, p) in model.Parameters)
        {
            // A parameter the variant never uses (local cross: norm2 feeds no query) has no gradient on either side;
            // the fixture writes zeros for it.
            Compare($"grad.{name}", p.grad is null ? new float[p.numel()] : Values(p.grad), expected[$"grad.{name}"].Data);
        }
        Assert.Equal(expected.Keys.Count(k => k.StartsWith("grad.", StringComparison.Ordinal)), model.Parameters.Count);
        Assert.True(Values(result.AttentionLoss!)[0] > 0f, "the fixture should exercise a non-trivial attention loss");
    }

    private void Compare(string name, float[] ours, float[] torch)
    {
        Assert.True(ours.Length == torch.Length, $"{name}: {ours.Length} values vs PyTorch's {torch.Length}");
        double maxDiff = 0, maxRef = 0;
        for (var i = 0; i < ours.Length; i++)
        {
            Assert.False(float.IsNaN(ours[i]), $"{name}[{i}] is NaN");
            maxDiff = Math.Max(maxDiff, Math.Abs((double)ours[i] - torch[i]));
            maxRef = Math.Max(maxRef, Math.Abs((double)torch[i]));
        }
        var rel = maxRef == 0 ? maxDiff : maxDiff / maxRef;
        output.WriteLine($"{name,-50} max|Δ| {maxDiff:E2}  relative {rel:E2}");
        Assert.True(maxDiff <= RelativeTolerance * maxRef + AbsoluteFloor,
            $"{name}: max |Δ| {maxDiff:E3} exceeds {RelativeTolerance:E0} × max|torch| {maxRef:E3} + {AbsoluteFloor:E0} (relative {rel:E3})");
    }

    private static void RunReference(DecoderOptions options, string outDir, int seed) =>
        TorchEngineTests.RunPython("parity.py", JsonSerializer.Serialize(options, ModelCard.Json), outDir, seed.ToString(System.Globalization.CultureInfo.InvariantCulture));
}
