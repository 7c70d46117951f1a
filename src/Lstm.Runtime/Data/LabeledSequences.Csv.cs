using System.Globalization;
using System.Text;

namespace Lstm.Runtime.Data;

/// <summary>One sequence as read from a CSV file, before it is encoded: text, values or a token per row, and its label as written.</summary>
/// <param name="Name">Its name: the sequence id, or "line N".</param>
/// <param name="Line">The file line it starts on.</param>
/// <param name="Text">The text (a text classifier), else null.</param>
/// <param name="Values">[length, F] values (rows of features), else null.</param>
/// <param name="Label">The label as written (a sequence's label, or a CTC target), or null when the file has no label column.</param>
/// <param name="Tokens">One token per row (rows of a token column), else null.</param>
/// <param name="StepLabels">One label per row (per-step labelling), else null.</param>
/// <param name="Lines">The file line of each row (rows of one id), else null.</param>
public sealed record RawSequence(
    string Name, int Line, string? Text, double[]? Values, string? Label,
    IReadOnlyList<string>? Tokens = null, IReadOnlyList<string>? StepLabels = null, IReadOnlyList<int>? Lines = null);

/// <summary>Where the label column's value belongs when rows of one id form a sequence.</summary>
public enum RowLabels
{
    /// <summary>One label per sequence, the same on each of its rows (a classifier).</summary>
    Sequence,

    /// <summary>One label per row (per-step labelling).</summary>
    EveryRow,

    /// <summary>One target per sequence (CTC's label sequence): on its first row, and on the others the same or empty.</summary>
    Target,
}

/// <summary>
/// Reads labelled sequences from CSV files with a header row (RFC 4180: fields may be quoted, a
/// quote inside doubled, line breaks inside quotes): one text per row, or consecutive rows with
/// the same id as one sequence of feature values. Every problem names the file, line and column.
/// </summary>
public static class LabeledCsv
{
    /// <summary>The header and the rows (each with the line it starts on).</summary>
    /// <param name="path">The file.</param>
    /// <exception cref="LstmException">The file is missing, empty, or a row has the wrong number of fields or an open quote.</exception>
    public static (string[] Header, List<(int Line, string[] Fields)> Rows) Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
            throw new LstmException($"{path}: no such file");
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LstmException($"{path}: cannot be read: {e.Message}", e);
        }

        var records = new List<(int Line, string[] Fields)>();
        var fields = new List<string>();
        var field = new StringBuilder();
        int line = 1, start = 1;
        bool quoted = false, any = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    if (c == '\n')
                        line++;
                    field.Append(c);
                }

                continue;
            }

            switch (c)
            {
                case '"' when field.Length == 0:
                    quoted = true;
                    any = true;
                    break;
                case ',':
                    fields.Add(field.ToString());
                    field.Clear();
                    any = true;
                    break;
                case '\r':
                    break;
                case '\n':
                    if (any || field.Length > 0)
                    {
                        fields.Add(field.ToString());
                        records.Add((start, fields.ToArray()));
                    }

                    fields.Clear();
                    field.Clear();
                    any = false;
                    line++;
                    start = line;
                    break;
                default:
                    field.Append(c);
                    any = true;
                    break;
            }
        }

        if (quoted)
            throw new LstmException($"{path}:{start}: a quoted field is never closed");
        if (any || field.Length > 0)
        {
            fields.Add(field.ToString());
            records.Add((start, fields.ToArray()));
        }

        if (records.Count == 0)
            throw new LstmException($"{path}: empty (no header row)");
        var header = records[0].Fields.Select(h => h.Trim()).ToArray();
        records.RemoveAt(0);
        foreach (var (l, f) in records)
        {
            if (f.Length != header.Length)
                throw new LstmException($"{path}:{l}: {f.Length} fields, the header has {header.Length}");
        }

        if (records.Count == 0)
            throw new LstmException($"{path}: no rows below the header");
        return (header, records);
    }

    /// <summary>The index of a column, or an error naming the columns there are.</summary>
    /// <param name="path">The file, for the message.</param>
    /// <param name="header">Its header.</param>
    /// <param name="column">The column.</param>
    /// <param name="option">The option that named it.</param>
    public static int Column(string path, string[] header, string column, string option)
    {
        ArgumentNullException.ThrowIfNull(header);
        int k = Array.IndexOf(header, column);
        return k >= 0 ? k : throw new LstmException($"{path}: {option} '{column}' is not a column (the columns are {string.Join(", ", header)})");
    }

    /// <summary>One text per row with its label (null without a label column).</summary>
    /// <param name="path">The file.</param>
    /// <param name="textColumn">The text's column.</param>
    /// <param name="labelColumn">The label's column, or null (prediction).</param>
    public static List<RawSequence> ReadTexts(string path, string textColumn, string? labelColumn)
    {
        var (header, rows) = Read(path);
        int text = Column(path, header, textColumn, "--text-column");
        int? label = labelColumn is null ? null : Column(path, header, labelColumn, "--label-column");
        var result = new List<RawSequence>(rows.Count);
        foreach (var (line, f) in rows)
        {
            string? l = label is { } k ? f[k].Trim() : null;
            if (l is { Length: 0 })
                throw new LstmException($"{path}:{line}: column '{labelColumn}' is empty (every sequence needs a label)");
            result.Add(new RawSequence($"line {line}", line, f[text], null, l));
        }

        return result;
    }

    /// <summary>
    /// Consecutive rows with the same value in <paramref name="sequenceColumn"/> as one sequence
    /// of the <paramref name="features"/> values (a sequence's label is the same on each of its rows).
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="sequenceColumn">The sequence id's column.</param>
    /// <param name="features">The value columns.</param>
    /// <param name="labelColumn">The label's column, or null (prediction).</param>
    public static List<RawSequence> ReadFeatureSequences(string path, string sequenceColumn, IReadOnlyList<string> features, string? labelColumn) =>
        ReadRowSequences(path, sequenceColumn, features, null, labelColumn, RowLabels.Sequence);

    /// <summary>
    /// Consecutive rows with the same value in <paramref name="sequenceColumn"/> as one sequence:
    /// of the <paramref name="features"/> values, or of the tokens of <paramref name="tokenColumn"/>
    /// (one per row, trimmed), with the label column read as <paramref name="labels"/> says.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="sequenceColumn">The sequence id's column.</param>
    /// <param name="features">The value columns, or null for a token column.</param>
    /// <param name="tokenColumn">The token column, or null for features.</param>
    /// <param name="labelColumn">The label's column, or null (prediction).</param>
    /// <param name="labels">A label per sequence, per row, or a target per sequence.</param>
    /// <exception cref="LstmException">A column is missing, a value is not a number, a token, id or label is empty, a sequence's rows are apart, or its label differs between rows.</exception>
    public static List<RawSequence> ReadRowSequences(
        string path, string sequenceColumn, IReadOnlyList<string>? features, string? tokenColumn, string? labelColumn, RowLabels labels)
    {
        if (features is { Count: 0 })
            throw new LstmException($"{path}: --features names no column");
        var (header, rows) = Read(path);
        int id = Column(path, header, sequenceColumn, "--sequence-column");
        var columns = features?.Select(c => Column(path, header, c, "--features")).ToArray() ?? [];
        int token = tokenColumn is null ? -1 : Column(path, header, tokenColumn, "--text-column");
        int? label = labelColumn is null ? null : Column(path, header, labelColumn, "--label-column");
        var result = new List<RawSequence>();
        var values = new List<double>();
        var tokens = new List<string>();
        var stepLabels = new List<string>();
        var lines = new List<int>();
        string? current = null, currentLabel = null;
        int first = 0;
        void Close()
        {
            if (current is not null)
            {
                result.Add(new RawSequence(
                    current, first, null, features is null ? null : values.ToArray(), labels == RowLabels.EveryRow ? null : currentLabel,
                    tokenColumn is null ? null : tokens.ToArray(), labels == RowLabels.EveryRow && label is not null ? stepLabels.ToArray() : null, lines.ToArray()));
            }

            values.Clear();
            tokens.Clear();
            stepLabels.Clear();
            lines.Clear();
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (line, f) in rows)
        {
            string name = f[id].Trim();
            if (name.Length == 0)
                throw new LstmException($"{path}:{line}: column '{sequenceColumn}' is empty (every row needs its sequence's id)");
            string? l = label is { } k ? f[k].Trim() : null;
            bool opens = name != current;
            if (l is { Length: 0 } && (labels != RowLabels.Target || opens))
                throw new LstmException($"{path}:{line}: column '{labelColumn}' is empty (every {(labels == RowLabels.EveryRow ? "row" : "sequence")} needs a {(labels == RowLabels.Target ? "target" : "label")}{(labels == RowLabels.Target ? " on its first row" : "")})");
            if (opens)
            {
                Close();
                if (!seen.Add(name))
                    throw new LstmException($"{path}:{line}: sequence '{name}' appears again after other sequences (a sequence's rows must be consecutive)");
                current = name;
                currentLabel = l;
                first = line;
            }
            else if (labels != RowLabels.EveryRow && l != currentLabel && !(labels == RowLabels.Target && l is { Length: 0 }))
            {
                string what = labels == RowLabels.Target ? "target" : "label";
                throw new LstmException($"{path}:{line}: sequence '{name}' has {what} '{l}' here but '{currentLabel}' on line {first} (one {what} per sequence{(labels == RowLabels.Target ? ": give it on the first row, the others the same or empty" : "")})");
            }

            lines.Add(line);
            if (l is not null)
                stepLabels.Add(l);
            if (token >= 0)
            {
                string t = f[token].Trim();
                if (t.Length == 0)
                    throw new LstmException($"{path}:{line}: column '{tokenColumn}' is empty (every row holds one token)");
                tokens.Add(t);
            }

            for (int j = 0; j < columns.Length; j++)
            {
                string s = f[columns[j]].Trim();
                if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v))
                    throw new LstmException($"{path}:{line}: column '{features![j]}' holds '{s}', not a finite number");
                values.Add(v);
            }
        }

        Close();
        return result;
    }
}
