using AqaStream.Numerics;

namespace AqaStream.Scoring.Model;

/// <summary>
/// What the weight-score decoder says about a batch. Scores are on the normalised scale (label / score scale);
/// multiply by the model card's scale for points.
/// </summary>
/// <param name="Score">[B] ŷ = Σ_q w_q s_q.</param>
/// <param name="Weights">[B, Q] w = softmax over valid queries of a_q (difficulty).</param>
/// <param name="ClipScores">[B, Q] s_q (execution).</param>
/// <param name="Logits">[B, Q] a_q, the weight logits (−∞ at padded clips).</param>
/// <param name="AttentionLoss">Scalar L_att summed over layers and rows, averaged over the batch; null when not asked for.</param>
/// <param name="SelfAttention">Per layer, [B, H, Q, Q] self-attention probabilities.</param>
/// <param name="CrossAttention">Per layer, [B, H, Q, T] cross-attention probabilities (query → clip).</param>
/// <param name="Lengths">Valid clips per sample.</param>
public sealed record ScorerOutput(
    Tensor Score,
    Tensor Weights,
    Tensor ClipScores,
    Tensor Logits,
    Tensor? AttentionLoss,
    IReadOnlyList<float[]> SelfAttention,
    IReadOnlyList<float[]> CrossAttention,
    int[] Lengths)
{
    /// <summary>Per-clip weight·score, whose sum over a sample's clips is its score.</summary>
    public float Contribution(int b, int q)
    {
        var n = Weights.Shape[1];
        return Weights.Data[b * n + q] * ClipScores.Data[b * n + q];
    }
}
