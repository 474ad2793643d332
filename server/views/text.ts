// The languages of the terminal; definitions carry both texts.
export type Lang = 'en' | 'vi';

export const t = (text: { en: string; vi: string }, lang: Lang) => text[lang];
