//! What logs may say of a customer: text about a cart (a provider's error, a refused input) is
//! redacted before it is logged, so that no e-mail address or payment token reaches a log at
//! any level. Addresses keep their first letter and domain (`a***@example.com`), enough to tell
//! customers apart in an incident; payment ids keep their kind (`tok_***`).

/// `text` with every e-mail address and payment token or method id in it masked.
pub fn redact(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let word_end = (i..chars.len())
            .find(|&j| !is_word(chars[j]))
            .unwrap_or(chars.len());
        if word_end == i {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let word: String = chars[i..word_end].iter().collect();
        out.push_str(&mask_word(&word));
        i = word_end;
    }
    out
}

/// Characters an address or a payment id is made of.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || "@._%+-".contains(c)
}

fn mask_word(word: &str) -> String {
    // A sentence's full stop is not part of an address.
    let trimmed = word.trim_end_matches('.');
    let stop = &word[trimmed.len()..];
    format!("{}{stop}", mask_trimmed(trimmed))
}

fn mask_trimmed(word: &str) -> String {
    if let Some((local, domain)) = word.split_once('@')
        && !local.is_empty()
        && domain.contains('.')
    {
        return mask_email_parts(local, domain);
    }
    const PAYMENT_KINDS: &[&str] = &["tok_", "pm_", "card_", "src_", "ba_", "btok_"];
    if let Some(kind) = PAYMENT_KINDS.iter().find(|k| word.starts_with(**k))
        && word.len() > kind.len()
    {
        return format!("{kind}***");
    }
    word.to_owned()
}

fn mask_email_parts(local: &str, domain: &str) -> String {
    let first: String = local.chars().take(1).collect();
    format!("{first}***@{domain}")
}

/// An e-mail address masked for a log line: `a***@example.com`.
pub fn mask_email(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => mask_email_parts(local, domain),
        None => "***".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_payment_ids_are_masked_and_the_rest_kept() {
        assert_eq!(
            redact(
                "smtp: permanent error (550): 5.1.1 <ann.lee@example.com>: Recipient address rejected"
            ),
            "smtp: permanent error (550): 5.1.1 <a***@example.com>: Recipient address rejected"
        );
        assert_eq!(
            redact("payment rejected: unknown payment token \"tok_visa4242\""),
            "payment rejected: unknown payment token \"tok_***\""
        );
        assert_eq!(
            redact("No such PaymentMethod: 'pm_1NqZ2b'; cart CART-3f9c-1.x"),
            "No such PaymentMethod: 'pm_***'; cart CART-3f9c-1.x"
        );
        assert_eq!(
            redact("mail to Bob@Example.com."),
            "mail to B***@Example.com."
        );
        assert_eq!(redact("nothing here @ all"), "nothing here @ all");
        assert_eq!(mask_email("ann@example.com"), "a***@example.com");
    }
}
