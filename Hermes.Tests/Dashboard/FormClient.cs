using System.Net;
using System.Text.RegularExpressions;

namespace Hermes.Tests.Dashboard;

/// <summary>
/// HTTP the way a browser does it for a server-rendered form, without a browser: keeps cookies (its own jar, so a
/// Secure cookie set for a TLS-terminated request is still sent over the loopback HTTP behind it), posts forms with
/// their hidden fields, and does not follow redirects so each one can be checked.
/// </summary>
public sealed partial class FormClient(Uri baseAddress, string? forwardedProto = null) : IDisposable
{
    private readonly HttpClient _http = new(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = baseAddress };
    private readonly Dictionary<string, string> _cookies = new(StringComparer.Ordinal);

    public sealed record Answer(HttpStatusCode Status, string Body, Uri? Location, IReadOnlyList<string> SetCookies);

    public bool HasCookie(string name) => _cookies.ContainsKey(name);

    /// <summary>An address (a Location header, relative or absolute) as an absolute URI on this client's base.</summary>
    public Uri Resolve(string address) => new(baseAddress, address);

    public Uri Resolve(Uri address) => new(baseAddress, address);

    public Task<Answer> GetAsync(string path) => SendAsync(new HttpRequestMessage(HttpMethod.Get, path));

    public Task<Answer> PostAsync(string path, Dictionary<string, string> form) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Post, path) { Content = new FormUrlEncodedContent(form) });

    /// <summary>Loads the sign-in page at <paramref name="path"/> and submits its form with <paramref name="key"/>.</summary>
    public async Task<Answer> SubmitSignInAsync(string path, string key)
    {
        var page = await GetAsync(path);
        var fields = HiddenFields(page.Body);
        fields["Key"] = key;
        return await PostAsync(path, fields);
    }

    /// <summary>The name and value of every hidden input in an HTML page.</summary>
    public static Dictionary<string, string> HiddenFields(string html) =>
        HiddenInput().Matches(html).Select(m => m.Value)
            .ToDictionary(
                input => WebUtility.HtmlDecode(Attribute(input, "name")),
                input => WebUtility.HtmlDecode(Attribute(input, "value")));

    public void Dispose() => _http.Dispose();

    private async Task<Answer> SendAsync(HttpRequestMessage request)
    {
        using (request)
        {
            if (_cookies.Count > 0)
            {
                request.Headers.Add("Cookie", string.Join("; ", _cookies.Select(c => $"{c.Key}={c.Value}")));
            }

            if (forwardedProto is not null)
            {
                request.Headers.Add("X-Forwarded-Proto", forwardedProto);
            }

            using var response = await _http.SendAsync(request, TestContext.Current.CancellationToken);
            var setCookies = response.Headers.TryGetValues("Set-Cookie", out var values) ? values.ToList() : [];
            foreach (var setCookie in setCookies)
            {
                var pair = setCookie.Split(';', 2)[0];
                var (name, value) = (pair[..pair.IndexOf('=', StringComparison.Ordinal)], pair[(pair.IndexOf('=', StringComparison.Ordinal) + 1)..]);
                if (value.Length == 0 || setCookie.Contains("expires=Thu, 01 Jan 1970", StringComparison.OrdinalIgnoreCase))
                {
                    _cookies.Remove(name);
                }
                else
                {
                    _cookies[name] = value;
                }
            }

            return new Answer(response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), response.Headers.Location, setCookies);
        }
    }

    private static string Attribute(string input, string name) =>
        Regex.Match(input, $"""\b{name}="([^"]*)" """.TrimEnd()).Groups[1].Value;

    [GeneratedRegex("""<input[^>]*type="hidden"[^>]*>""")]
    private static partial Regex HiddenInput();
}
