// One signature dialog for every signed action (21 CFR 11.50, 11.200(a)(1)): the signer's username and
// password are entered each time, and the meaning of the signature is said in words above them.
// A witness signs in the same dialog on the same terminal: their own credentials, not the session's.
import { useI18n } from '../app/i18n';
import { Dialog } from '../ui/Dialog';
import { CredentialForm, type Credentials } from '../ui/CredentialForm';
import type { MessageKey } from '../i18n/en';

export type Meaning = 'performed' | 'verified' | 'investigated' | 'reviewed' | 'approved' | 'released' | 'rejected';
export type { Credentials };

export function SignatureDialog({ meaning, subject, username: suggested, onSign, onClose }: {
  meaning: Meaning;
  /** What is signed, e.g. the step's title. */
  subject: string;
  /** The logged-in user for a performer; empty for a witness, who types their own. */
  username?: string;
  /** Resolves when signed; an ApiError stays in the dialog unless it names a form field. */
  onSign: (c: Credentials) => Promise<void>;
  onClose: () => void;
}) {
  const { t } = useI18n();
  return (
    <Dialog title={t(`sign.title.${meaning}` as MessageKey)} onClose={onClose}>
      <CredentialForm username={suggested} className="stack signature" onSubmit={onSign}
        labels={{ username: t('sign.username'), password: t('sign.password'), submit: t('sign.submit') }}
        cancel={{ label: t('common.cancel'), onClick: onClose }}>
        <p className="meaning">{t(`sign.meaning.${meaning}` as MessageKey, { subject })}</p>
      </CredentialForm>
    </Dialog>
  );
}
