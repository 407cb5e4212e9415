using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Evaluation;
using AqaStream.Scoring.Model;
using Xunit;

namespace AqaStream.Scoring.Tests;

/// <summary>The baselines a card records (<see cref="ValidationBaselines"/>) and the verdict drawn from them
/// (<see cref="ModelCard.LosesToBaselines"/>).</summary>
public class ValidationBaselinesTests
{
    private const int Dim = 6;

    /// <summary>Performances whose score is 20 + 8·(mean of feature 0) + small noise.</summary>
    private static List<PerformanceSample> Performances(int count, int seed)
    {
        var rng = new Random(seed);
        var list = new List<PerformanceSample>();
        for (var i = 0; i < count; i++)
        {
            var clips = 5 + rng.Next(10);
            var f = new float[clips * Dim];
            for (var k = 0; k < f.Length; k++) { f[k] = (float)((rng.NextDouble() * 2) - 1); }
            var level = (rng.NextDouble() * 2) - 1;
            for (var c = 0; c < clips; c++) { f[c * Dim] += (float)level; }
            var mean0 = Enumerable.Range(0, clips).Average(c => f[c * Dim]);
            list.Add(new PerformanceSample($"p{seed}-{i}", f, clips, Dim, (float)(20 + (8 * mean0) + (0.1 * rng.NextDouble()))));
        }
        return list;
    }

    [Fact]
    public void Measure_ConstantIsTheTrainingMean_RidgeFollowsTheFeatures()
    {
        var train = Performances(40, 1);
        var validation = Performances(15, 2);
        var baselines = ValidationBaselines.Measure(train, validation);
        Assert.Equal([ValidationBaselines.ConstantName, MeanPooledRidge.MethodName], baselines.Select(b => b.Name));
        var mean = train.Average(s => (double)s.Score!.Value);
        var constantMse = validation.Average(s => Math.Pow(mean - s.Score!.Value, 2));
        var constant = baselines[0];
        Assert.Null(constant.Spearman);
        Assert.Equal(constantMse, constant.Mse, 6);
        Assert.Equal(validation.Average(s => mean - s.Score!.Value), constant.Bias, 6);
        Assert.Equal(40, constant.TrainedOn);
        var ridge = baselines[1];
        Assert.True(ridge.Spearman > 0.9, $"ridge ρ {ridge.Spearman}");
        Assert.True(ridge.Mse < constantMse / 3, $"ridge MSE {ridge.Mse} against the constant's {constantMse}");
    }

    [Fact]
    public void Measure_TooFewPerformances_NoBaselines_AnUnlabelledOne_IsAnError()
    {
        Assert.Empty(ValidationBaselines.Measure(Performances(ValidationBaselines.MinimumTraining - 1, 1), Performances(5, 2)));
        Assert.Empty(ValidationBaselines.Measure(Performances(30, 1), Performances(1, 2)));
        var unlabelled = Performances(3, 3).Select(s => s with { Score = null }).ToList();
        var e = Assert.Throws<ArgumentException>(() => ValidationBaselines.Measure(Performances(30, 1), unlabelled));
        Assert.Contains("p3-0", e.Message, StringComparison.Ordinal);
    }

    private static ModelCard Card(double spearman, double mse, IReadOnlyList<BaselineFigures>? baselines) =>
        new() { ModelId = "m", Validation = new ValidationSummary(spearman, spearman, mse, 0.01, 80, 3, baselines) };

    private static readonly BaselineFigures[] Baselines =
    [
        new("constant", "the training mean", 320, null, 43.8, 0.6),
        new("ridge-mean", "ridge on mean clip features", 320, 0.593, 22.6, 0.2),
    ];

    [Theory]
    [InlineData(0.68, 21.4, null)]
    [InlineData(0.544, 56.0, "MSE 56.00 against constant's 43.80; MSE 56.00 against ridge-mean's 22.60; ρ 0.544 against ridge-mean's 0.593")]
    [InlineData(0.70, 30.0, "MSE 30.00 against ridge-mean's 22.60")]
    [InlineData(0.50, 20.0, "ρ 0.500 against ridge-mean's 0.593")]
    public void LosesToBaselines_NamesEveryLoss(double spearman, double mse, string? losses)
    {
        var verdict = Card(spearman, mse, Baselines).LosesToBaselines();
        if (losses is null) { Assert.Null(verdict); return; }
        Assert.Equal($"on its validation split (80 performances) it loses to the baselines: {losses}", verdict);
    }

    [Fact]
    public void LosesToBaselines_NoneRecorded_NoVerdict_TheCardRoundTripsThem()
    {
        Assert.Null(Card(0.1, 1000, null).LosesToBaselines());
        Assert.Null(Card(0.1, 1000, []).LosesToBaselines());
        Assert.Null(new ModelCard().LosesToBaselines());
        var card = Card(0.544, 56.0, Baselines);
        var back = ModelCard.Parse(card.ToJson(), "test");
        Assert.Equal(Baselines, back.Validation!.Baselines);
        Assert.Equal(card.LosesToBaselines(), back.LosesToBaselines());
        // A card written before baselines were recorded still parses: none recorded.
        var old = card.ToJson().Replace("\"baselines\"", "\"unused\"", StringComparison.Ordinal);
        Assert.Null(ModelCard.Parse(old, "old").Validation!.Baselines);
    }

    [Fact]
    public void ReplaceCard_KeepsTheTensors_RewritesTheCardInTheFileAndBesideIt_RefusesAnotherFormat()
    {
        using var dir = new TempDirectory();
        var path = dir.File("r.safetensors");
        var (model, _) = MeanPooledRidge.Fit(Performances(30, 4), lengthTerm: false);
        CheckpointStore.Save(path, model, new ModelCard { ModelId = "r", Architecture = new DecoderOptions { FeatureDim = Dim, MaxQueries = 64 } });
        var before = SafeTensors.Read(path);
        var loaded = CheckpointStore.Load(path);
        var updated = loaded.Card with { Validation = new ValidationSummary(0.5, 0.5, 30, 0.01, 80, 0, Baselines) };
        CheckpointStore.ReplaceCard(path, updated);
        var after = SafeTensors.Read(path);
        Assert.Equal(before.Tensors.Keys, after.Tensors.Keys);
        foreach (var (name, t) in before.Tensors) { Assert.Equal(t.Data, after.Tensors[name].Data); Assert.Equal(t.Shape, after.Tensors[name].Shape); }
        Assert.Equal(updated.LosesToBaselines(), CheckpointStore.Load(path).Card.LosesToBaselines());
        Assert.NotNull(CheckpointStore.Load(path).Card.LosesToBaselines());
        Assert.Contains("\"baselines\"", File.ReadAllText(CheckpointStore.CardPath(path)), StringComparison.Ordinal);
        var sample = Performances(1, 9)[0];
        Assert.Equal(model.Score([sample], 1f)[0].Score, CheckpointStore.Load(path).Scorer.Score([sample], 1f)[0].Score);
        var e = Assert.Throws<ArgumentException>(() => CheckpointStore.ReplaceCard(path, updated with { Format = ModelCard.CurrentFormat }));
        Assert.Contains("cannot replace", e.Message, StringComparison.Ordinal);
    }
}
