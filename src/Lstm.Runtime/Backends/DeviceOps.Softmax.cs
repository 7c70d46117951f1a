namespace Lstm.Runtime.Backends;

/// <content>The log-softmax: sizes that match and at least one class per row.</content>
internal abstract partial class DeviceOps<T>
{
    /// <inheritdoc/>
    public void LogSoftmax(int rows, int classes, BufferSlice<T> input, BufferSlice<T> output)
    {
        if (rows < 0 || classes < 0)
            throw new LstmException($"log-softmax: negative size (N {rows}, C {classes})");
        long n = (long)rows * classes;
        if (input.Length != n || output.Length != n)
            throw new LstmException($"log-softmax over [N {rows}, C {classes}]: input of {input.Length} elements, output of {output.Length}");
        if (rows > 0 && classes == 0)
            throw new LstmException("log-softmax over 0 classes");
        if (rows == 0)
            return;
        LogSoftmaxCore(rows, classes, input, output);
    }

    /// <summary><see cref="LogSoftmax"/> with checked arguments (N, C ≥ 1).</summary>
    /// <param name="rows">N.</param>
    /// <param name="classes">C.</param>
    /// <param name="input">[N, C].</param>
    /// <param name="output">[N, C] out.</param>
    protected abstract void LogSoftmaxCore(int rows, int classes, BufferSlice<T> input, BufferSlice<T> output);
}
