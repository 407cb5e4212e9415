namespace AqaStream.Scoring.Data;

/// <summary>A data file a user supplied is wrong; the message names the file and what is wrong with it.</summary>
public sealed class DataFormatException : Exception
{
    /// <summary>Creates the error.</summary>
    public DataFormatException(string message) : base(message) { }

    /// <summary>Creates the error with its cause.</summary>
    public DataFormatException(string message, Exception inner) : base(message, inner) { }

    /// <summary>Creates the error.</summary>
    public DataFormatException() { }
}
