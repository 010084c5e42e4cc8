using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace Ongko.Serve;

/// <summary>A request the server refuses: its status code and one line saying why.</summary>
public sealed class RequestException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;
}

/// <summary>The images of a request: the raw body, or each file of a multipart/form-data body; all within the body limit.</summary>
public static class RequestImages
{
    public const string BodyName = "request body";

    public static async Task<List<(string Name, byte[] Bytes)>> Read(HttpRequest request, long maxBytes, CancellationToken cancellation)
    {
        if (request.ContentLength > maxBytes) throw TooLarge(maxBytes);
        var images = new List<(string, byte[])>();
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type) || !type.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            var body = await ReadBounded(request.Body, maxBytes, cancellation);
            if (body.Length > 0) images.Add((BodyName, body));
            return images;
        }

        string boundary = HeaderUtilities.RemoveQuotes(type.Boundary).Value ?? "";
        if (boundary.Length is 0 or > 256) throw new RequestException(400, "the multipart/form-data request has no valid boundary");
        var reader = new MultipartReader(boundary, request.Body) { BodyLengthLimit = maxBytes, HeadersCountLimit = 16, HeadersLengthLimit = 8 << 10 };
        long total = 0;
        try
        {
            while (await reader.ReadNextSectionAsync(cancellation) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)) continue;
                string? file = HeaderUtilities.RemoveQuotes(disposition.FileName).Value ?? HeaderUtilities.RemoveQuotes(disposition.FileNameStar).Value;
                byte[] bytes = await ReadBounded(section.Body, maxBytes - total, cancellation);
                total += bytes.Length;
                if (file is null) continue; // a plain form field, not a file
                images.Add((Clean(file), bytes));
            }
        }
        catch (Exception e) when (e is InvalidDataException or IOException && !cancellation.IsCancellationRequested && e is not BadHttpRequestException)
        { throw new RequestException(400, $"the multipart/form-data body cannot be read ({e.Message})"); }
        return images;
    }

    static async Task<byte[]> ReadBounded(Stream stream, long limit, CancellationToken cancellation)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellation)) > 0)
        {
            if (buffer.Length + read > limit) throw TooLarge(limit);
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    public static RequestException TooLarge(long limit) =>
        new(StatusCodes.Status413PayloadTooLarge, $"the request body is over the limit of {limit:N0} bytes");

    /// <summary>A file name fit to echo back: its last path part, printable, at most 100 characters.</summary>
    static string Clean(string name)
    {
        name = name.Replace('\\', '/');
        name = name[(name.LastIndexOf('/') + 1)..];
        name = new string(name.Where(c => !char.IsControl(c)).Take(100).ToArray());
        return name.Length == 0 ? "image" : name;
    }
}
