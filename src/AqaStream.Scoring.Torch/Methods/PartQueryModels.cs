using AqaStream.Scoring.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace AqaStream.Scoring.Torch.Methods;

/// <summary>
/// <c>tpt</c> (Bai et al., ECCV 2022, "Action Quality Assessment with Temporal Parsing Transformer"), adapted to long
/// programmes and direct score regression: <see cref="SequenceMethodOptions.Grades"/> learnable part queries read the
/// clips through two decoder layers on the shared <see cref="ClipTrunk"/>; each part's temporal centre
/// c_k = Σ_t a_kt (t+½)/T (its cross-attention over relative time) is kept in order by a ranking loss
/// (c_k + margin ≤ c_k+1) and made compact by a sparsity loss (Σ_t a_kt ((t+½)/T − c_k)²). The paper regresses a score
/// <em>difference</em> against an exemplar video with a contrastive head; Fis-V programmes are too long and too few for
/// exemplar pairs on 2 cores, so the mean of the part features goes through a two-layer head to z directly.
/// Explanation: the parts' cross-attention averaged (where the parts sit); no per-clip score.
/// </summary>
public sealed class TemporalPartsModel : SequenceModel
{
    private const float RankingMargin = 0.05f;

    private readonly ClipTrunk trunk;
    private readonly Parameter parts;
    private readonly QueryDecoder decoder;
    private readonly Sequential head;

    /// <summary>Creates the model.</summary>
    public TemporalPartsModel(SequenceMethodOptions o) : base("tpt", o)
    {
        trunk = new ClipTrunk(o);
        parts = new Parameter(randn(o.Grades, o.Hidden) * 0.02f);
        decoder = new QueryDecoder(o);
        head = nn.Sequential(nn.Linear(o.Hidden, o.Hidden / 2), nn.ReLU(), nn.Dropout(o.Dropout), nn.Linear(o.Hidden / 2, 1));
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override bool HasClipScores => false;

    /// <inheritdoc/>
    public override Tensor EmbedClips(Tensor features, Tensor mask) => trunk.Project(features, mask);

    /// <inheritdoc/>
    public override SequenceOutput Aggregate(Tensor clips, Tensor mask)
    {
        var (decoded, attention) = decoder.call(parts, trunk.Encode(clips, mask), mask);
        var weights = attention.mean([1]);
        var z = head.call(decoded.mean([1])).squeeze(-1);
        Tensor? auxiliary = null;
        if (training)
        {
            var lengths = mask.sum(-1, keepdim: true).to_type(ScalarType.Float32);              // [B, 1]
            var position = (arange(clips.shape[1], device: clips.device).to_type(ScalarType.Float32) + 0.5f).unsqueeze(0) / lengths; // [B, T]
            var centres = (attention * position.unsqueeze(1)).sum(-1);                           // [B, K]
            var ranking = F.relu(centres[.., ..^1] - centres[.., 1..] + RankingMargin).mean();
            var spread = (attention * (position.unsqueeze(1) - centres.unsqueeze(-1)).pow(2)).sum(-1).mean();
            auxiliary = ranking + spread;
        }
        return new SequenceOutput(z, weights, z.unsqueeze(1).expand_as(weights), auxiliary);
    }
}

/// <summary>
/// <c>qgvl</c> (quality-guided vision-language AQA), adapted: the GDLT structure whose grade prototypes are
/// initialised from quality prompt embeddings (a [K, E] float .npy of text features, e.g. CLIP's for "a poor / fair /
/// good / excellent performance", projected E → hidden by a learned linear map) when a file is given, and learned from
/// a random start otherwise (no CLIP weights ship here, so without a file this is GDLT plus the alignment loss on
/// learned prompts). A semantic alignment loss pulls each decoded grade towards its prompt (1 − cosine).
/// </summary>
public sealed class QualityPromptModel : SequenceModel
{
    private readonly ClipTrunk trunk;
    private readonly Parameter prompts;
    private readonly Linear prompt_projection;
    private readonly QueryDecoder decoder;
    private readonly Linear regressor;

    /// <summary>Creates the model; <paramref name="promptEmbeddings"/> [K, E] initialises the prompts when given.</summary>
    public QualityPromptModel(SequenceMethodOptions o, float[,]? promptEmbeddings = null) : base("qgvl", o)
    {
        trunk = new ClipTrunk(o);
        var width = promptEmbeddings?.GetLength(1) ?? o.PromptDim;
        if (promptEmbeddings is not null && promptEmbeddings.GetLength(0) != o.Grades)
        {
            throw new ArgumentException($"--prompt-embeddings holds {promptEmbeddings.GetLength(0)} prompts; --grades is {o.Grades}.");
        }
        prompts = new Parameter(promptEmbeddings is null ? randn(o.Grades, width) * 0.02f : tensor(promptEmbeddings));
        prompt_projection = nn.Linear(width, o.Hidden);
        decoder = new QueryDecoder(o);
        // One regressor shared by the grades: per-grade rows (GDLT's diagonal) measured worse here (benchmark fisv, 20
        // epochs, one stop: TES ρ 0.426 -> 0.367, PCS 0.692 -> 0.649).
        regressor = nn.Linear(o.Hidden, 1);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override bool HasClipScores => false;

    /// <inheritdoc/>
    public override Tensor EmbedClips(Tensor features, Tensor mask) => trunk.Project(features, mask);

    /// <inheritdoc/>
    public override SequenceOutput Aggregate(Tensor clips, Tensor mask)
    {
        var projected = prompt_projection.call(prompts);                                     // [K, h]
        var (decoded, attention) = decoder.call(projected, trunk.Encode(clips, mask), mask);   // [B, K, h], [B, K, T]
        var weights = attention.mean([1]);
        var z = GradeDecoupledModel.Likert(regressor, decoded, linspace(0, 1, Options.Grades, device: clips.device));
        Tensor? auxiliary = null;
        if (training)
        {
            auxiliary = (1 - F.cosine_similarity(decoded, projected.unsqueeze(0).expand_as(decoded), dim: -1)).mean();
        }
        return new SequenceOutput(z, weights, z.unsqueeze(1).expand_as(weights), auxiliary);
    }
}
