namespace Lstm.Runtime;

/// <summary>
/// An error in what the user gave: a file, a tensor's shape, a device name, an option.
/// The message names the problem (file, tensor, expected and actual shape, value) and is
/// meant to be shown as is; the CLI prints it and exits with a non-zero code.
/// </summary>
public class LstmException : Exception
{
    /// <summary>Creates the exception with a message that names the problem.</summary>
    public LstmException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the error that caused it.</summary>
    public LstmException(string message, Exception inner) : base(message, inner)
    {
    }

    /// <summary>Creates the exception with no message.</summary>
    public LstmException()
    {
    }
}
