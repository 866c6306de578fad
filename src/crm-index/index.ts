/** The CRM phone index: who a caller is in the CRM and who is responsible for them, per portal. */
export { CrmPhoneIndex, learnFrom } from './crm-index.ts';
export { phoneKey } from './phone.ts';
