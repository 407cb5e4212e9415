using AqaStream.Scoring.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace AqaStream.Scoring.Torch.Methods;

/// <summary>
/// The grade-decoupled methods on the shared <see cref="ClipTrunk"/>: <see cref="SequenceMethodOptions.Grades"/>
/// learnable grade prototypes query the clips through two transformer decoder layers; each decoded grade q_k gets its
/// own membership σ(r_k·q_k) (one regressor row per grade, the diagonal of a linear map to K outputs, as the reference
/// code does), normalised over the grades, and the score is the membership-weighted Likert value Σ_k m_k ℓ_k.
/// <list type="bullet">
/// <item><c>gdlt</c> (Xu et al., CVPR 2022): ℓ = 0, 1/(K−1), …, 1, MSE on z plus a batch-hard triplet loss that keeps
/// the decoded grades apart.</item>
/// <item><c>cofinal</c> (Zhou et al., IJCAI 2024), adapted: coarse-to-fine. Two coarse Likert heads, one with the
/// paper's values ℓ = (−1, −0.8, 0.8, 1) (for K = 4; −1…1 evenly otherwise) and one reversed (ℓ' = ℓ flipped), regress
/// the target's coarse part g₁ = ⌊100 z⌋/100 and 1 − g₁ (MSE each). A fine head (self-attention over the decoded
/// grades, two linear maps, L2-normalised to 100 values) is pulled (L1) onto the vertex of a fixed 100-class simplex
/// equiangular tight frame (ETF) that names the fine part g₂ = ⌊10⁴ z⌋ − 100⌊100 z⌋. The score is
/// (coarse + 1 − reversed)/2 + argmax_c(fine · ETF_c)/10⁴; the grade triplet loss of gdlt is kept. The paper's
/// grade labels come from its datasets' score digits the same way; Fis-V has no other grade labels.</item>
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
    private readonly MultiheadAttention? fine_attention;
    private readonly Sequential? fine_head;
    private readonly bool _coarse;

    /// <summary>Classes of CoFInAl's fine head (the two score digits after the coarse part).</summary>
    public const int FineClasses = 100;

    /// <summary>Creates the model; <paramref name="coarseHead"/> selects CoFInAl's variant.</summary>
    public GradeDecoupledModel(SequenceMethodOptions o, bool coarseHead) : base(coarseHead ? "cofinal" : "gdlt", o)
    {
        _coarse = coarseHead;
        trunk = new ClipTrunk(o);
        prototypes = new Parameter(randn(o.Grades, o.Hidden) * 0.02f);
        decoder = new QueryDecoder(o);
        regressor = nn.Linear(o.Hidden, o.Grades);
        if (coarseHead)
        {
            reversed_regressor = nn.Linear(o.Hidden, o.Grades);
            fine_attention = nn.MultiheadAttention(o.Hidden, o.Hidden % 4 == 0 ? 4 : 1, o.Dropout);
            fine_head = nn.Sequential(nn.Linear(o.Grades * o.Hidden, o.Hidden), nn.Linear(o.Hidden, FineClasses));
        }
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override bool HasClipScores => false;

    /// <inheritdoc/>
    public override Tensor EmbedClips(Tensor features, Tensor mask) => trunk.Project(features, mask);

    /// <inheritdoc/>
    public override SequenceOutput Aggregate(Tensor clips, Tensor mask)
    {
        var o = Options;
        var (decoded, attention) = decoder.call(prototypes, trunk.Encode(clips, mask), mask);    // [B, K, h], [B, K, T]
        var weights = attention.mean([1]);
        if (!_coarse)
        {
            var z = Likert(regressor, decoded, linspace(0, 1, o.Grades, device: clips.device));
            return new SequenceOutput(z, weights, z.unsqueeze(1).expand_as(weights), training ? GradeTriplet(decoded) : null);
        }
        var values = CoarseValues(o.Grades, clips.device);
        var coarse = Likert(regressor, decoded, values);
        var reversed = Likert(reversed_regressor!, decoded, values.flip(0));
        var q = decoded.transpose(0, 1);                                                            // [K, B, h]
        var (mixed, _) = fine_attention!.call(q, q, q, null, false, null);
        var fine = F.normalize(fine_head!.call(mixed.transpose(0, 1).flatten(1)), dim: 1);            // [B, 100]
        var score = (coarse + 1 - reversed) / 2;
        if (!training)
        {
            var digits = fine.matmul(SimplexEtf(FineClasses, FineClasses, clips.device).t()).argmax(1).to_type(ScalarType.Float32);
            score = score + (digits / 10_000f);
        }
        Tensor? auxiliary = training ? GradeTriplet(decoded) : null;
        return new SequenceOutput(score, weights, score.unsqueeze(1).expand_as(weights), auxiliary, [coarse, reversed, fine]);
    }

    /// <inheritdoc/>
    public override Tensor TrainingLoss(SequenceOutput output, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(target);
        if (!_coarse) { return base.TrainingLoss(output, target); }
        var (coarse, reversed, fine) = (output.Heads![0], output.Heads[1], output.Heads[2]);
        var (g1, g2) = CoarseAndFine(target);
        var vertices = SimplexEtf(FineClasses, FineClasses, target.device).index_select(0, g2);     // [B, 100]
        var loss = F.mse_loss(coarse, g1) + F.mse_loss(reversed, 1 - g1) + F.l1_loss(fine, vertices);
        return output.Auxiliary is null ? loss : loss + (output.Auxiliary * Options.AuxiliaryWeight);
    }

    /// <summary>CoFInAl's split of a normalised target z ∈ [0, 1]: the coarse part g₁ = ⌊100 z⌋/100 (clamped to 0…0.99)
    /// and the fine class g₂ = ⌊10⁴ z⌋ − 100⌊100 z⌋ ∈ 0…99 (the next two digits).</summary>
    public static (Tensor Coarse, Tensor Fine) CoarseAndFine(Tensor target)
    {
        ArgumentNullException.ThrowIfNull(target);
        var hundredths = (target * 100).floor().clamp(0, 99);
        var fine = ((target * 10_000).floor() - (hundredths * 100)).clamp(0, FineClasses - 1).to_type(ScalarType.Int64);
        return (hundredths / 100, fine);
    }

    /// <summary>CoFInAl's coarse Likert values: (−1, −0.8, 0.8, 1) for four grades (its "arcl1" setting), −1…1 evenly otherwise.</summary>
    public static Tensor CoarseValues(int grades, Device device) =>
        grades == 4 ? tensor(new[] { -1f, -0.8f, 0.8f, 1f }, device: device) : linspace(-1, 1, grades, device: device);

    /// <summary>Each grade's membership σ(r_k·q_k) (the diagonal of <paramref name="head"/>'s K outputs; with one output,
    /// σ(r·q_k), one regressor shared by the grades), normalised over the grades, times the Likert values: z [B].</summary>
    internal static Tensor Likert(Linear head, Tensor decoded, Tensor values)
    {
        var logits = head.call(decoded);                                                       // [B, K, K] or [B, K, 1]
        var membership = (logits.shape[^1] == 1 ? logits.squeeze(-1) : logits.diagonal(dim1: -2, dim2: -1)).sigmoid();   // [B, K]
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
