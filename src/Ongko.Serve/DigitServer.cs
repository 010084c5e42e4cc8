using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.OpenApi;

namespace Ongko.Serve;

/// <summary>
/// The web application of <c>ongko serve</c>: the drawing page at <c>/</c>, the JSON API under <c>/api/</c> and its
/// OpenAPI document at <c>/openapi.json</c>. Every answer to bad input is a 4xx with <c>{"error": "one line"}</c>;
/// nothing a client sends produces a 500 or a stack trace. One log line per request.
/// </summary>
public static class DigitServer
{
    const string Bengali = "০১২৩৪৫৬৭৮৯";

    /// <summary>Builds (does not start) the application; <paramref name="log"/> receives one line per request.</summary>
    public static WebApplication Build(RecognizerPool pool, ServeOptions options, TextWriter log)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = [],
            EnvironmentName = Environments.Production,
            ContentRootPath = AppContext.BaseDirectory,
            ApplicationName = "Ongko.Serve",
        });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes;
        });
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.Services.AddOpenApi("v1", openApi => openApi.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Ongko digit recogniser";
            document.Info.Description = "Classifies images of handwritten Bengali digits with an Ongko checkpoint. Every error is " +
                                        "{\"error\": \"one line\"} with a 4xx status: 400 (not a decodable image, too many pixels), 413 (body too large).";
            document.Info.Version = typeof(DigitServer).Assembly.GetName().Version?.ToString(3) ?? "0";
            return Task.CompletedTask;
        }));
        builder.WebHost.UseUrls([.. options.Urls]);

        var app = builder.Build();
        var started = Stopwatch.StartNew();
        app.Use((context, next) => LogRequest(context, next, log));
        app.Use((context, next) => RefuseBadInput(context, next, options, log));
        app.UseStatusCodePages(context => context.HttpContext.Response.WriteAsJsonAsync(new ErrorResponse(context.HttpContext.Response.StatusCode switch
        {
            StatusCodes.Status404NotFound => "no such page: the page is at /, the API under /api/ (see /openapi.json)",
            StatusCodes.Status405MethodNotAllowed => $"{context.HttpContext.Request.Method} is not allowed here (see /openapi.json)",
            int status => $"HTTP {status}",
        })));
        app.MapOpenApi("/openapi.json");

        byte[] page = ReadPage();
        app.MapGet("/", (HttpContext context) =>
        {
            context.Response.Headers.ContentSecurityPolicy =
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'";
            return Results.Bytes(page, "text/html; charset=utf-8");
        }).ExcludeFromDescription();

        app.MapGet("/api/health", () => new HealthResponse("ok", pool.Description.Name, Math.Round(started.Elapsed.TotalSeconds, 1)))
           .WithSummary("Liveness: the server is up and its model is loaded.");
        app.MapGet("/api/model", () => pool.Description)
           .WithSummary("The model card: name, parameters, input, preprocessing, layers, training results, and the card's Markdown text when there is one.");

        app.MapPost("/api/predict", async (HttpContext context) =>
        {
            var images = await RequestImages.Read(context.Request, options.MaxBodyBytes, context.RequestAborted);
            if (images.Count == 0) throw NoImage();
            if (images.Count > 1) throw new RequestException(400, $"the request holds {images.Count} files; send one, or use /api/predict/batch");
            var (name, bytes) = images[0];
            return Results.Json(await Predict(pool, name, bytes, options, named: false, context.RequestAborted));
        })
        .WithSummary("Classify one image: the PNG or JPEG as the request body, or as one file of a multipart/form-data body.")
        .ImageRequestBody("image/png", "image/jpeg", "multipart/form-data")
        .Produces<PredictionResponse>()
        .Produces<ErrorResponse>(StatusCodes.Status400BadRequest)
        .Produces<ErrorResponse>(StatusCodes.Status413PayloadTooLarge);

        app.MapPost("/api/predict/batch", async (HttpContext context) =>
        {
            var clock = Stopwatch.StartNew();
            var images = await RequestImages.Read(context.Request, options.MaxBodyBytes, context.RequestAborted);
            if (images.Count == 0) throw NoImage();
            if (images.Count > options.MaxBatchImages)
                throw new RequestException(400, $"the batch holds {images.Count} images, more than the limit of {options.MaxBatchImages}");
            var results = new List<BatchItem>(images.Count);
            foreach (var (name, bytes) in images)
            {
                try { results.Add(new BatchItem(name, await Predict(pool, name, bytes, options, named: true, context.RequestAborted), null)); }
                catch (OngkoInputException e) { results.Add(new BatchItem(name, null, OneLine(e.Message))); }
            }
            return Results.Json(new BatchResponse(results.Count, results.Count(r => r.Error is not null), Milliseconds(clock), results));
        })
        .WithSummary("Classify several images: each a file of a multipart/form-data body. An image that cannot be read gets an error in its place.")
        .ImageRequestBody("multipart/form-data")
        .Produces<BatchResponse>()
        .Produces<ErrorResponse>(StatusCodes.Status400BadRequest)
        .Produces<ErrorResponse>(StatusCodes.Status413PayloadTooLarge);
        return app;
    }

    /// <summary>Runs each recognizer once on a blank image, so the first request does not pay for compiling the code.</summary>
    public static void WarmUp(IEnumerable<IRecognizer> recognizers, ServeOptions options)
    {
        byte[] blank = Vision.PngWriter.Encode(new Vision.ByteImage(1, 28, 28));
        foreach (var recognizer in recognizers) recognizer.Recognize(blank, "warm-up image", options.MaxImagePixels);
    }

    /// <summary>
    /// Documents the image body in the OpenAPI document. (Not <c>Accepts</c>: that would make routing refuse other
    /// content types with an empty 415, and <c>curl --data-binary</c> sends a form content type by default.)
    /// </summary>
    static RouteHandlerBuilder ImageRequestBody(this RouteHandlerBuilder endpoint, params string[] types) =>
        endpoint.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            static OpenApiSchema Binary() => new() { Type = JsonSchemaType.String, Format = "binary" };
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Description = "A PNG or JPEG image as the body (any content type), or multipart/form-data with one file per image.",
                Content = types.ToDictionary(type => type, type => new OpenApiMediaType
                {
                    Schema = type != "multipart/form-data" ? Binary() : new OpenApiSchema
                    {
                        Type = JsonSchemaType.Object,
                        Properties = new Dictionary<string, IOpenApiSchema> { ["image"] = Binary() },
                    },
                }),
            };
            return Task.CompletedTask;
        });

    static RequestException NoImage() =>
        new(400, "the request has no image: send a PNG or JPEG as the body, or as a file of a multipart/form-data body");

    static async Task<PredictionResponse> Predict(RecognizerPool pool, string name, byte[] bytes, ServeOptions options, bool named, CancellationToken cancellation)
    {
        return await pool.Run(recognizer =>
        {
            var clock = Stopwatch.StartNew();
            var result = recognizer.Recognize(bytes, name, options.MaxImagePixels);
            double milliseconds = Milliseconds(clock);
            var p = result.Probabilities;
            int digit = System.Numerics.Tensors.TensorPrimitives.IndexOfMax<float>(p);
            var input = result.Input;
            return new PredictionResponse(named ? name : null, digit, p.Length == 10 ? Bengali[digit].ToString() : null, p[digit], p, milliseconds,
                                          new ModelInput(input.Channels, input.Height, input.Width, Vision.PngWriter.DataUrl(input)));
        }, cancellation);
    }

    static double Milliseconds(Stopwatch clock) => Math.Round(clock.Elapsed.TotalMilliseconds, 3);

    /// <summary>Bad input of any kind becomes a 4xx with one line; anything else a 500 without details (logged).</summary>
    static async Task RefuseBadInput(HttpContext context, Func<Task> next, ServeOptions options, TextWriter log)
    {
        try { await next(); }
        catch (Exception e) when (context.RequestAborted.IsCancellationRequested && e is OperationCanceledException or IOException)
        {
            context.Abort(); // the client went away
        }
        catch (Exception e)
        {
            var (status, message) = e switch
            {
                RequestException r => (r.Status, r.Message),
                BadHttpRequestException b when b.StatusCode == StatusCodes.Status413PayloadTooLarge => (b.StatusCode, RequestImages.TooLarge(options.MaxBodyBytes).Message),
                BadHttpRequestException b => (b.StatusCode, $"bad request ({b.Message})"),
                OngkoInputException o => (StatusCodes.Status400BadRequest, o.Message),
                _ => (StatusCodes.Status500InternalServerError, "internal error; the server log has the details"),
            };
            if (status == StatusCodes.Status500InternalServerError)
                log.WriteLine($"ongko serve: internal error on {context.Request.Method} {context.Request.Path}: {e.GetType().Name}: {OneLine(e.Message)}");
            if (context.Response.HasStarted) { context.Abort(); return; }
            context.Response.Clear();
            context.Response.StatusCode = status;
            await context.Response.WriteAsJsonAsync(new ErrorResponse(OneLine(message)));
        }
    }

    /// <summary>One line per request: time, method, path, status, milliseconds, bytes received.</summary>
    static async Task LogRequest(HttpContext context, Func<Task> next, TextWriter log)
    {
        var clock = Stopwatch.StartNew();
        try { await next(); }
        finally
        {
            var request = context.Request;
            string status = context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted ? "aborted" : context.Response.StatusCode.ToString(CultureInfo.InvariantCulture);
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{DateTime.UtcNow:HH:mm:ss.fff} {request.Method} {request.Path}{request.QueryString} {status} {clock.Elapsed.TotalMilliseconds:F1} ms {request.ContentLength ?? 0} bytes"));
        }
    }

    static string OneLine(string message)
    {
        int end = message.IndexOfAny(['\r', '\n']);
        return end < 0 ? message : message[..end];
    }

    static byte[] ReadPage()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("Ongko.Serve.index.html")
                           ?? throw new InvalidOperationException("the page is not embedded");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
