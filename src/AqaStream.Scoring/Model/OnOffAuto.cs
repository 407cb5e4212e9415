namespace AqaStream.Scoring.Model;

/// <summary>
/// A ridge option that is off, on, or chosen by the inner folds (<c>auto</c>): the motion term (<see cref="ClipMotion"/>)
/// and the squash (<see cref="ClipSquash"/>). A choice list holds the candidates the inner folds compare.
/// </summary>
public static class OnOffAuto
{
    /// <summary>Without, then with: the inner folds choose.</summary>
    public static readonly IReadOnlyList<bool> Auto = [false, true];

    /// <summary>Without.</summary>
    public static readonly IReadOnlyList<bool> Off = [false];

    /// <summary>With.</summary>
    public static readonly IReadOnlyList<bool> On = [true];

    /// <summary>Parses <c>off</c>, <c>on</c> or <c>auto</c>; anything else is a one-line error naming
    /// <paramref name="option"/> and the three.</summary>
    public static IReadOnlyList<bool> Parse(string text, string option) => text switch
    {
        "off" => Off,
        "on" => On,
        "auto" => Auto,
        _ => throw new ArgumentException($"{option} '{text}' is not one of off, on, auto."),
    };

    /// <summary>Parses <c>off</c> or <c>on</c> (an option the inner folds do not choose); anything else is a one-line
    /// error naming <paramref name="option"/> and the two.</summary>
    public static bool ParseOnOff(string text, string option) => text switch
    {
        "off" => false,
        "on" => true,
        _ => throw new ArgumentException($"{option} '{text}' is not one of off, on."),
    };

    /// <summary>The one-line description of a choice list, for cards.</summary>
    public static string Describe(IReadOnlyList<bool> choices) => choices switch
    {
        [false] => "off",
        [true] => "on",
        _ => "auto (off or on, chosen by the inner folds)",
    };
}
