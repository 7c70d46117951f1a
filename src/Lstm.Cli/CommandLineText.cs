using System.Text;

namespace Lstm.Cli;

/// <summary>A command line as text a POSIX shell runs again unchanged (<c>command.txt</c>).</summary>
internal static class CommandLineText
{
    /// <summary><c>lstm</c> and the arguments, each quoted where the shell would split or expand it.</summary>
    /// <param name="args">The arguments as the program received them.</param>
    public static string Format(IEnumerable<string> args) => string.Join(' ', new[] { "lstm" }.Concat(args.Select(Quote)));

    /// <summary>One argument, single-quoted unless it is made only of characters a shell leaves alone.</summary>
    /// <param name="arg">The argument.</param>
    public static string Quote(string arg)
    {
        if (arg.Length > 0 && arg.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=,+@%".Contains(c)))
            return arg;
        var sb = new StringBuilder("'");
        foreach (char c in arg)
            sb.Append(c == '\'' ? "'\\''" : c.ToString());
        return sb.Append('\'').ToString();
    }
}
