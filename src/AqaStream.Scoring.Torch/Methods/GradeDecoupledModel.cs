using AqaStream.Scoring.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace AqaStream.Scoring.Torch.Methods;

/// <summary>
/// The grade-decoupled methods on the shared <see cref="ClipTrunk"/>: <see cref="SequenceMethodOptions.Grades"/>
/// learnable grade prototypes query the clips through two transformer decoder layers; each decoded grade gets a
/// membership σ(r·q_k), normalised over the grades, and the score is the membership-weighted Likert value
/// Σ_k m_k ℓ_k with ℓ = 0, 1/(K−1), …, 1.
/// <list type="bullet">
/// <item><c>gdlt</c> (Xu et al., CVPR 2022): plus a batch-hard triplet loss that keeps the decoded grades apart.</item>
/// <item><c>cofinal</c> (Zhou et al., IJCAI 2024), adapted: a second, reversed Likert head (ℓ' = 1 − ℓ) predicts 1 − z,
/// the score is the mean of the two, and the decoded grades are pulled onto a fixed simplex equiangular tight frame
/// (ETF) instead of the triplet loss. The paper's coarse grade classifier needs grade labels Fis-V does not have, so
/// the coarse stage is the reversed head here.</item>
/// </list>
/// Explanation: the clip weights are the last decoder layer's cross-attention, averaged over the grades (where the
/// grades looked); there is no per-clip score.
/// </summary>
public sealed class GradeDecoupledModel : SequenceModel
{
    private const float TripletMargin = 1f;

    private readonly ClipTrunk trunk;
    private readonly Parameter prototypes;
    private readonly QueryDecoder decoder;
    private readonly Linear regressor;
    private readonly Linear? reversed_regressor;
    private readonly bool _coarse;

    /// <summary>Creates the model; <paramref name="coarseHead"/> selects CoFInAl's variant.</summary>
    public GradeDecoupledModel(SequenceMethodOptions o, bool coarseHead) : base(coarseHead ? "cofinal" : "gdlt", o)
    {
        _coarse = coarseHead;
        trunk = new ClipTrunk(o);
        prototypes = new Parameter(randn(o.Grades, o.Hidden) * 0.02f);
        decoder = new QueryDecoder(o);
        regressor = nn.Linear(o.Hidden, 1);
        reversed_regressor = coarseHead ? nn.Linear(o.Hidden, 1) : null;
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override bool HasClipScores => false;

    /// <inheritdoc/>
    public override SequenceOutput forward(Tensor features, Tensor mask)
    {
        var o = Options;
        var (decoded, attention) = decoder.call(prototypes, trunk.call(features, mask), mask);   // [B, K, h], [B, K, T]
        var weights = attention.mean([1]);
        var likert = linspace(0, 1, o.Grades, device: features.device);
        var z = Likert(regressor, decoded, likert);
        if (reversed_regressor is not null) { z = (z + (1 - Likert(reversed_regressor, decoded, 1 - likert))) / 2; }
        Tensor? auxiliary = null;
        if (training) { auxiliary = _coarse ? EtfAlignment(decoded) : GradeTriplet(decoded); }
        return new SequenceOutput(z, weights, z.unsqueeze(1).expand_as(weights), auxiliary);
    }

    /// <summary>Membership σ(r·q_k) normalised over the grades, times the Likert values: z [B].</summary>
    internal static Tensor Likert(Linear head, Tensor decoded, Tensor values)
    {
        var membership = head.call(decoded).squeeze(-1).sigmoid();                    // [B, K]
        membership = membership / membership.sum(-1, keepdim: true);
        return (membership * values).sum(-1);
    }

    // Batch-hard triplet over the decoded grades (label = grade index): each grade's farthest same-grade vector must be
    // closer than its nearest other-grade vector by the margin.
    private Tensor GradeTriplet(Tensor decoded)
    {
        var (b, k) = (decoded.shape[0], decoded.shape[1]);
        var flat = decoded.reshape(b * k, -1);
        var labels = arange(k, device: decoded.device).repeat(b);
        var distance = cdist(flat, flat);
        var same = labels.unsqueeze(0).eq(labels.unsqueeze(1));
        var hardestPositive = distance.masked_fill(same.logical_not(), 0).amax([1]);
        var hardestNegative = distance.masked_fill(same, float.PositiveInfinity).amin([1]);
        return F.relu(hardestPositive - hardestNegative + TripletMargin).mean();
    }

    // 1 − cos(decoded grade k, ETF vertex k): the K vertices of a simplex ETF (pairwise cosine −1/(K−1)), fixed.
    private Tensor EtfAlignment(Tensor decoded)
    {
        var (k, h) = (decoded.shape[1], decoded.shape[2]);
        var etf = SimplexEtf(k, h, decoded.device);
        var cos = F.cosine_similarity(decoded, etf.unsqueeze(0).expand_as(decoded), dim: -1);
        return (1 - cos).mean();
    }

    /// <summary>K unit vectors in h dimensions with pairwise cosine −1/(K−1): the first K coordinate axes, centred and
    /// rescaled (deterministic, no parameters).</summary>
    public static Tensor SimplexEtf(long k, long h, Device device)
    {
        var basis = eye(k, h, device: device);
        var centred = basis - basis.mean([0], keepdim: true);
        return F.normalize(centred, dim: 1);
    }
}

/// <summary>
/// Learnable queries (grade prototypes, temporal parts) read the clip memory through two <see cref="GradeDecoderLayer"/>s;
/// gives the decoded queries [B, K, h] and the last layer's cross-attention of each query [B, K, T] (averaged heads).
/// </summary>
public sealed class QueryDecoder : nn.Module<Tensor, Tensor, Tensor, (Tensor Decoded, Tensor Attention)>
{
    private readonly ModuleList<GradeDecoderLayer> layers;

    /// <summary>Creates the decoder.</summary>
    public QueryDecoder(SequenceMethodOptions o) : base("query_decoder")
    {
        layers = nn.ModuleList(new GradeDecoderLayer(o), new GradeDecoderLayer(o));
        RegisterComponents();
    }

    /// <summary>Queries [K, h] (shared by the batch), memory [B, T, h], validity mask [B, T].</summary>
    public override (Tensor Decoded, Tensor Attention) forward(Tensor queries, Tensor memory, Tensor mask)
    {
        var sequenceFirst = memory.transpose(0, 1);
        var q = queries.unsqueeze(1).expand(queries.shape[0], memory.shape[0], queries.shape[1]);
        Tensor attention = null!;
        var padding = mask.logical_not();
        foreach (var layer in layers) { (q, attention) = layer.call(q, sequenceFirst, padding); }
        return (q.transpose(0, 1), attention);
    }
}

/// <summary>One post-norm transformer decoder layer (self-attention among the grades, cross-attention to the clips,
/// feed-forward) that also returns the cross-attention weights [B, K, T] averaged over heads.</summary>
public sealed class GradeDecoderLayer : nn.Module<Tensor, Tensor, Tensor, (Tensor Output, Tensor Attention)>
{
    private readonly MultiheadAttention self_attn;
    private readonly MultiheadAttention multihead_attn;
    private readonly Linear linear1;
    private readonly Linear linear2;
    private readonly LayerNorm norm1;
    private readonly LayerNorm norm2;
    private readonly LayerNorm norm3;
    private readonly Dropout dropout;

    /// <summary>Creates the layer.</summary>
    public GradeDecoderLayer(SequenceMethodOptions o) : base("decoder_layer")
    {
        self_attn = nn.MultiheadAttention(o.Hidden, o.Heads, o.Dropout);
        multihead_attn = nn.MultiheadAttention(o.Hidden, o.Heads, o.Dropout);
        linear1 = nn.Linear(o.Hidden, 3 * o.Hidden);
        linear2 = nn.Linear(3 * o.Hidden, o.Hidden);
        norm1 = nn.LayerNorm(o.Hidden);
        norm2 = nn.LayerNorm(o.Hidden);
        norm3 = nn.LayerNorm(o.Hidden);
        dropout = nn.Dropout(o.Dropout);
        RegisterComponents();
    }

    /// <summary>Queries [K, B, h], memory [T, B, h], padding mask [B, T] (true where absent).</summary>
    public override (Tensor Output, Tensor Attention) forward(Tensor queries, Tensor memory, Tensor padding)
    {
        var (selfOut, _) = self_attn.call(queries, queries, queries, null, false, null);
        var q = norm1.call(queries + dropout.call(selfOut));
        var (cross, weights) = multihead_attn.call(q, memory, memory, padding, true, null);
        q = norm2.call(q + dropout.call(cross));
        q = norm3.call(q + dropout.call(linear2.call(dropout.call(F.relu(linear1.call(q))))));
        return (q, weights);
    }
}
