//! Case- and accent-folding for directory search: « Éloïse » and « eloise »
//! fold to the same text, so a pupil typing without accents finds her.
//!
//! Why no crate: the usual route is Unicode normalisation (NFD) and dropping
//! the combining marks, which needs `unicode-normalization` and its tables for
//! every script. School directories here hold Latin names; a table of the
//! Latin-1 Supplement and Latin Extended-A letters covers French and the other
//! European names they contain, is easy to read and test, and costs nothing.
//! Combining marks (U+0300–U+036F) are dropped too, so text that a client sent
//! decomposed (as macOS does) folds like composed text. Other scripts are only
//! lower-cased.

/// Lower-cases `s`, strips the accents of Latin letters (é→e, ç→c, œ→oe,
/// ß→ss), maps typographic apostrophes to `'`, trims it and collapses runs of
/// whitespace into one space.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if ('\u{300}'..='\u{36f}').contains(&c) {
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        for l in c.to_lowercase() {
            if ('\u{300}'..='\u{36f}').contains(&l) {
                continue; // İ lower-cases to i + U+0307
            }
            match fold_char(l) {
                Some(s) => out.push_str(s),
                None => out.push(l),
            }
        }
    }
    out
}

/// The ASCII spelling of a lower-case Latin letter with a diacritic.
fn fold_char(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ĳ' => "ij",
        'ĵ' => "j",
        'ķ' | 'ĸ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ñ' | 'ń' | 'ņ' | 'ň' | 'ŉ' | 'ŋ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'œ' => "oe",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ſ' => "s",
        'ß' => "ss",
        'ţ' | 'ť' | 'ŧ' => "t",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ŵ' => "w",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        '\u{2019}' | '\u{2018}' | '\u{02bc}' | '`' | '\u{b4}' => "'",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn folds_case_and_accents() {
        let cases = [
            ("Éloïse", "eloise"),
            ("FRANÇOIS", "francois"),
            ("Cœur", "coeur"),
            ("Lætitia", "laetitia"),
            ("Straße", "strasse"),
            ("Łukasz Żółć", "lukasz zolc"),
            ("N’Diaye", "n'diaye"),
            ("  de   la\tFontaine ", "de la fontaine"),
            ("e\u{301}lise", "elise"), // decomposed é
            ("ÀÉÎÕÜ", "aeiou"),
            ("Ğülşen", "gulsen"),
            ("İlkay", "ilkay"),
            ("Δήμητρα", "δήμητρα"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(fold(input), want, "{input:?}");
        }
    }

    #[test]
    fn every_latin1_and_extended_a_letter_folds_to_ascii() {
        for c in
            ('\u{c0}'..='\u{17f}').filter(|c| c.is_alphabetic() && *c != '\u{d7}' && *c != '\u{f7}')
        {
            let f = fold(&c.to_string());
            assert!(f.is_ascii(), "{c:?} folds to {f:?}");
        }
    }
}
