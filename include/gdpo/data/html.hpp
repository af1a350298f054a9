// HTML character references in scraped text (Amazon review texts and titles hold &quot;, &#39;,
// &amp; ...): decoded the way Python's html.unescape does, so that a review reads as its author
// wrote it.
#pragma once
#include <string>
#include <string_view>

namespace gdpo::data {

// `s` with its character references decoded as Python's html.unescape (HTML5 rules):
//  - numeric `&#65;`, `&#x41;`, `&#X41;` (the `;` may be missing): the code point; 0 and surrogates
//    D800-DFFF and values past 10FFFF become U+FFFD, 0x80-0x9F the Windows-1252 character (&#146;
//    is U+2019), 0x0D a carriage return, other control characters and noncharacters (U+FFFE ...)
//    nothing;
//  - named `&quot;`: the HTML 4 names (quot amp lt gt nbsp, the Latin-1 letters, Greek letters, math
//    and typographic symbols: hellip mdash rsquo euro trade ...) and apos; the legacy names that
//    HTML5 also reads without `;` (amp lt gt quot nbsp copy eacute ... and AMP LT GT QUOT COPY
//    REG), also as the prefix of a longer word: "&ampx" -> "&x", "&notit;" -> "¬it;";
//  - anything else (an unknown name, a lone `&`, `&#` without digits) is kept as written.
// Names that only HTML5 added (&check;, &bigstar; ...) are kept as written: the one difference from
// Python, whose table has all 2,231 HTML5 names (those in scraped reviews are HTML 4's).
std::string html_unescape(std::string_view s);

}  // namespace gdpo::data
