namespace Lstm.Runtime.Recurrent;

/// <summary>
/// How a variable-length batch runs: rows sorted by length (descending, stable), so the rows
/// active at step t are the first <see cref="Active"/>[t].
/// </summary>
internal sealed class LengthPlan
{
    public LengthPlan(int[] lengths, int steps)
    {
        int batch = lengths.Length;
        Perm = Enumerable.Range(0, batch).OrderByDescending(b => lengths[b]).ThenBy(b => b).ToArray();
        Inverse = new int[batch];
        for (int r = 0; r < batch; r++)
            Inverse[Perm[r]] = r;
        Sorted = Perm.Select(b => lengths[b]).ToArray();
        Identity = Perm.Select((b, r) => b == r).All(x => x);
        Active = new int[steps];
        for (int t = 0; t < steps; t++)
            Active[t] = Sorted.Count(l => l > t);
    }

    /// <summary>Sorted row r is the caller's row Perm[r].</summary>
    public int[] Perm { get; }

    /// <summary>The caller's row b is sorted row Inverse[b].</summary>
    public int[] Inverse { get; }

    /// <summary>Lengths in sorted order (descending).</summary>
    public int[] Sorted { get; }

    /// <summary>True when the rows are already sorted (no gather needed).</summary>
    public bool Identity { get; }

    /// <summary>n_t: how many rows have length &gt; t.</summary>
    public int[] Active { get; }

    /// <summary>Checks the sequence lengths (one per row, each in [0, T]) and sorts the rows by them; null for none.</summary>
    /// <param name="lengths">One length per row, or null when every row has T steps.</param>
    /// <param name="steps">T.</param>
    /// <param name="batch">B.</param>
    /// <exception cref="LstmException">A count other than B, or a length outside [0, T].</exception>
    public static LengthPlan? For(IReadOnlyList<int>? lengths, int steps, int batch)
    {
        if (lengths is null)
            return null;
        if (lengths.Count != batch)
            throw new LstmException($"lengths has {lengths.Count} entries; expected one per sequence (batch = {batch})");
        for (int b = 0; b < batch; b++)
        {
            if (lengths[b] < 0 || lengths[b] > steps)
                throw new LstmException($"lengths[{b}] = {lengths[b]} is outside [0, seq_len = {steps}]");
        }

        return new LengthPlan(lengths.ToArray(), steps);
    }

    /// <summary>n_t: rows active at step t (rows are sorted by length, so they are the first n_t).</summary>
    public static int ActiveRows(LengthPlan? plan, int batch, int steps, int t) =>
        t < 0 || t >= steps ? 0 : plan is null ? batch : plan.Active[t];

    /// <summary>
    /// The active rows of step t in runs by where their previous state comes from: the previous
    /// step's output, or h0/c0 for rows that begin at t (every row at t = 0 forward; rows whose
    /// own last step is t in the reverse direction).
    /// </summary>
    /// <remarks>A struct, enumerated by foreach without an allocation: it is asked for at every step.</remarks>
    public static StepSegments Segments(LengthPlan? plan, int batch, int steps, int direction, int t)
    {
        int n = ActiveRows(plan, batch, steps, t);
        int carried = direction == 0 ? (t == 0 ? 0 : n) : ActiveRows(plan, batch, steps, t + 1);
        return new StepSegments(carried, n);
    }

    /// <summary>Runs of rows with one length (sorted rows), or all rows with length T.</summary>
    public static IEnumerable<(int Start, int End, int Length)> LengthGroups(LengthPlan? plan, int batch, int steps)
    {
        if (plan is null)
        {
            yield return (0, batch, steps);
            yield break;
        }

        int start = 0;
        for (int r = 1; r <= batch; r++)
        {
            if (r == batch || plan.Sorted[r] != plan.Sorted[start])
            {
                yield return (start, r, plan.Sorted[start]);
                start = r;
            }
        }
    }
}

/// <summary>Rows [0, carried) of a step continue from the previous step; rows [carried, active) begin at it.</summary>
internal readonly struct StepSegments(int carried, int active)
{
    public Enumerator GetEnumerator() => new(carried, active);

    /// <summary>(0, carried, false) if carried &gt; 0, then (carried, active, true) if active &gt; carried.</summary>
    public struct Enumerator(int carried, int active)
    {
        private int _next;

        public (int Start, int End, bool FromInitial) Current { get; private set; }

        public bool MoveNext()
        {
            if (_next == 0)
            {
                _next = 1;
                if (carried > 0)
                {
                    Current = (0, carried, false);
                    return true;
                }
            }

            if (_next == 1)
            {
                _next = 2;
                if (active > carried)
                {
                    Current = (carried, active, true);
                    return true;
                }
            }

            return false;
        }
    }
}
